package trustcaptcha_test

// What the middleware tells the operator through Options.Logger.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the log lines that contain substr.
func (s *syncBuffer) lines(substr string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for l := range strings.Lines(s.b.String()) {
		if strings.Contains(l, substr) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// TestOperatorErrorsLoggedOncePerMinute: a revoked key is logged the first
// time, then at most once a minute per reason with the number not logged.
func TestOperatorErrorsLoggedOncePerMinute(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	clock := newFakeClock()
	cause := trustcaptcha.ErrAPIKeyInvalid
	v := trustcaptcha.VerifierFunc(func(context.Context, string) (*trustcaptcha.Result, error) {
		return nil, fmt.Errorf("%w (HTTP 403)", cause)
	})
	h := trustcaptcha.RequireCaptchaWithClock(trustcaptcha.Options{
		Verifier: v, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}, clock.Now)(probe(&seen{}))
	for range 100 {
		send(h, tokHuman)
	}
	assert.Len(t, logs.lines("level=ERROR"), 1, "100 rejections in a minute")
	clock.Advance(59 * time.Second)
	send(h, tokHuman)
	assert.Len(t, logs.lines("level=ERROR"), 1)
	clock.Advance(time.Second)
	send(h, tokHuman)
	lines := logs.lines("level=ERROR")
	if assert.Len(t, lines, 2) {
		assert.Contains(t, lines[1], "reason=api-key-invalid")
		assert.Contains(t, lines[1], "suppressed=100")
	}
	cause = trustcaptcha.ErrUnexpectedResponse // another reason has its own minute
	send(h, tokHuman)
	assert.Len(t, logs.lines("reason=unexpected-response"), 1)
}

// TestMistakesAreNamed: the classic wiring mistakes get an answer (and a
// Debug log line) that names what the middleware looked for and, on a GET,
// how to protect only the form's POST; never the token.
func TestMistakesAreNamed(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: &stub{},
		Logger:   slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
	})(probe(&seen{}))
	looked := `looked for the form field or JSON member "tc-verification-token" and the X-TC-Verification-Token header`
	cases := []struct {
		name    string
		req     reqCase
		want    []string
		wantNot []string
	}{
		{"the middleware on the page's GET", reqCase{method: http.MethodGet},
			[]string{looked, "this is a GET request", "trustcaptcha.SkipSafeMethods"}, nil},
		{"a form field named token", reqCase{contentType: "application/x-www-form-urlencoded", body: "token=" + tokHuman},
			[]string{looked}, []string{"SkipSafeMethods", tokHuman}},
		{"a form field with underscores", reqCase{contentType: "application/x-www-form-urlencoded",
			body: "tc_verification_token=" + tokHuman}, []string{looked}, []string{tokHuman}},
		{"a JSON member of another name", reqCase{contentType: "application/json", body: `{"captcha":"` + tokHuman + `"}`},
			[]string{`looked for the form field or JSON member \"tc-verification-token\"`}, []string{tokHuman}},
	}
	for _, c := range cases {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, c.req.request())
		assert.Equal(t, http.StatusBadRequest, rec.Code, c.name)
		for _, w := range c.want {
			assert.Contains(t, rec.Body.String(), w, c.name)
		}
		for _, w := range c.wantNot {
			assert.NotContains(t, rec.Body.String(), w, c.name)
		}
	}
	debug := logs.lines("level=DEBUG")
	assert.Len(t, debug, len(cases), "every rejection logged at Debug")
	for _, l := range debug {
		assert.Contains(t, l, "reason=token-missing")
		assert.Contains(t, l, "tc-verification-token")
		assert.NotContains(t, l, tokHuman)
	}
}

// A site in minimal data mode is told once per process, at Warn, that its
// Threshold does nothing. Not parallel: the warning is process-wide.
func TestMinimalDataModeWarnsOncePerProcess(t *testing.T) {
	trustcaptcha.ResetMinimalDataWarning()
	t.Cleanup(trustcaptcha.ResetMinimalDataWarning)
	var logs syncBuffer
	minimal := trustcaptcha.VerifierFunc(func(context.Context, string) (*trustcaptcha.Result, error) {
		return &trustcaptcha.Result{VerificationID: freshID(), VerificationPassed: true, MinimalDataModeEnabled: true}, nil
	})
	for range 2 { // two middlewares in one process: one warning
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: minimal,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})(probe(&seen{}))
		for range 3 {
			assert.Equal(t, http.StatusNoContent, send(h, tokenFor(freshID())).Code)
		}
	}
	warns := logs.lines("minimal data mode")
	if assert.Len(t, warns, 1) {
		assert.Contains(t, warns[0], "level=WARN")
		assert.Contains(t, warns[0], "Threshold has no effect")
	}
}

// A result the API decided in its gateway failover is admitted (the vendor's
// default) and named at Debug, admitted or not.
func TestGatewayFailoverIsNamedAtDebug(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	score := 0.1
	gateway := trustcaptcha.VerifierFunc(func(context.Context, string) (*trustcaptcha.Result, error) {
		return &trustcaptcha.Result{VerificationID: freshID(), VerificationPassed: true, Score: score,
			GatewayFailoverActive: true, DecisionType: "FAILOVER"}, nil
	})
	var s seen
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: gateway,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})(probe(&s))
	assert.Equal(t, http.StatusNoContent, send(h, tokenFor(freshID())).Code)
	require.True(t, s.hasResult)
	assert.True(t, s.result.GatewayFailoverActive, "the handler can check the flag")
	admitted := logs.lines("gateway failover")
	if assert.Len(t, admitted, 1) {
		assert.Contains(t, admitted[0], "level=DEBUG")
		assert.Contains(t, admitted[0], "decision_type=FAILOVER")
	}
	score = 0.9
	assert.Equal(t, http.StatusBadRequest, send(h, tokenFor(freshID())).Code)
	rejected := logs.lines("request rejected")
	if assert.Len(t, rejected, 1) {
		assert.Contains(t, rejected[0], "gateway_failover=true")
	}
}
