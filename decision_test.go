package trustcaptcha_test

// What the middleware decides for each kind of result, error and request,
// and what the next handler, the ErrorHandler and OnDecision learn of it
// (decision.go).

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/captchakit/trustcaptcha"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDecisions(t *testing.T) {
	t.Parallel()
	unreachable := fmt.Errorf("%w: dial tcp: connection refused", trustcaptcha.ErrServerUnreachable)
	clientFailover := fmt.Errorf("%w (HTTP 412)", trustcaptcha.ErrClientReportedFailover)
	cases := []struct {
		name         string
		token        string
		verifyErr    error
		opts         trustcaptcha.Options
		wantStatus   int
		wantReason   string // public reason in the response
		wantFailover bool
	}{
		{name: "human passes", token: tokHuman, wantStatus: 204},
		{name: "score at the threshold passes", token: tokEdge, wantStatus: 204},
		{name: "bot rejected", token: tokBot, wantStatus: 400, wantReason: "score-too-high"},
		{
			name:       "bot admitted by a lenient threshold",
			token:      tokBot,
			opts:       trustcaptcha.Options{Threshold: 0.95},
			wantStatus: 204,
		},
		{
			name:       "strict threshold rejects at 0.5",
			token:      tokEdge,
			opts:       trustcaptcha.Options{Threshold: 0.3},
			wantStatus: 400,
			wantReason: "score-too-high",
		},
		{
			name:       "failed verification rejected",
			token:      tokFailed,
			wantStatus: 400,
			wantReason: "verification-failed",
		},
		{
			name:       "failed verification even at threshold 1",
			token:      tokFailed,
			opts:       trustcaptcha.Options{Threshold: 1},
			wantStatus: 400,
			wantReason: "verification-failed",
		},
		{
			name:       "unknown verification",
			token:      tokenFor(someID),
			wantStatus: 400,
			wantReason: "verification-not-found",
		},
		{
			name:       "not finished",
			verifyErr:  trustcaptcha.ErrVerificationNotFinished,
			wantStatus: 400,
			wantReason: "verification-not-finished",
		},
		{
			name:       "expired",
			verifyErr:  trustcaptcha.ErrResultExpired,
			wantStatus: 400,
			wantReason: "result-expired",
		},
		{
			name:       "retrieval limit",
			verifyErr:  trustcaptcha.ErrRetrievalLimitReached,
			wantStatus: 400,
			wantReason: "retrieval-limit-reached",
		},
		{
			name:       "retrieval limit never fails open",
			verifyErr:  trustcaptcha.ErrRetrievalLimitReached,
			opts:       trustcaptcha.Options{Failover: trustcaptcha.FailOpenTrustingClientFailover},
			wantStatus: 400,
			wantReason: "retrieval-limit-reached",
		},
		{
			name:       "bad key rejected, vaguely",
			verifyErr:  trustcaptcha.ErrAPIKeyInvalid,
			wantStatus: 400,
			wantReason: "captcha-unavailable",
		},
		{
			name:       "bad key never fails open",
			verifyErr:  trustcaptcha.ErrAPIKeyInvalid,
			opts:       trustcaptcha.Options{Failover: trustcaptcha.FailOpenTrustingClientFailover},
			wantStatus: 400,
			wantReason: "captcha-unavailable",
		},
		{
			name:       "unexpected answer never fails open",
			verifyErr:  trustcaptcha.ErrUnexpectedResponse,
			opts:       trustcaptcha.Options{Failover: trustcaptcha.FailOpen},
			wantStatus: 400,
			wantReason: "captcha-unavailable",
		},
		{name: "custom policy never sees a bad key", verifyErr: trustcaptcha.ErrAPIKeyInvalid,
			opts: trustcaptcha.Options{
				Failover: trustcaptcha.FailoverFunc(func(*http.Request, error) error { return nil }),
			}, wantStatus: 400, wantReason: "captcha-unavailable"},
		{
			name:       "unreachable fails closed by default",
			verifyErr:  unreachable,
			wantStatus: 400,
			wantReason: "captcha-unavailable",
		},
		{
			name:         "unreachable admitted by FailOpen",
			verifyErr:    unreachable,
			opts:         trustcaptcha.Options{Failover: trustcaptcha.FailOpen},
			wantStatus:   204,
			wantFailover: true,
		},
		{
			name:         "breaker open admitted by FailOpen",
			verifyErr:    fmt.Errorf("%w: %w", trustcaptcha.ErrServerUnreachable, trustcaptcha.ErrBreakerOpen),
			opts:         trustcaptcha.Options{Failover: trustcaptcha.FailOpen},
			wantStatus:   204,
			wantFailover: true,
		},
		{
			name:       "client failover rejected by default",
			verifyErr:  clientFailover,
			wantStatus: 400,
			wantReason: "client-failover-unconfirmed",
		},
		{
			name:       "client failover not admitted by FailOpen",
			verifyErr:  clientFailover,
			opts:       trustcaptcha.Options{Failover: trustcaptcha.FailOpen},
			wantStatus: 400,
			wantReason: "client-failover-unconfirmed",
		},
		{
			name:         "client failover admitted when trusted",
			verifyErr:    clientFailover,
			opts:         trustcaptcha.Options{Failover: trustcaptcha.FailOpenTrustingClientFailover},
			wantStatus:   204,
			wantFailover: true,
		},
		{
			name:      "custom policy per cause",
			verifyErr: clientFailover,
			opts: trustcaptcha.Options{Failover: trustcaptcha.FailoverFunc(func(r *http.Request, err error) error {
				if errors.Is(err, trustcaptcha.ErrClientReportedFailover) && r.Header.Get("X-Logged-In") == "yes" {
					return nil
				}
				return err
			})},
			wantStatus: 400,
			wantReason: "client-failover-unconfirmed",
		},
		{
			name:       "unknown verifier error",
			verifyErr:  errors.New("database down"),
			wantStatus: 400,
			wantReason: "captcha-unavailable",
		},
		{name: "token missing", token: "-", wantStatus: 400, wantReason: "token-missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := &stub{err: tc.verifyErr}
			opts := tc.opts
			opts.Verifier, opts.Logger = v, quietLogger()
			opts.ReplayStore = trustcaptcha.NewMemoryStore() // the cases share tokens, not claims
			var s seen
			h := trustcaptcha.RequireCaptcha(opts)(probe(&s))
			r := httptest.NewRequest(http.MethodPost, "/contact", nil)
			tok := tc.token
			if tok == "" {
				tok = tokHuman
			}
			if tok != "-" {
				r.Header.Set("X-TC-Verification-Token", tok)
			}
			r.Header.Set("Accept", "application/problem+json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			require.Equal(t, tc.wantStatus, rec.Code, rec.Body.String())
			if tc.wantStatus >= 400 {
				assert.False(t, s.ran)
				p := problem(t, rec)
				assert.Equal(t, tc.wantReason, p.Reason)
				assert.Equal(t, tc.wantStatus, p.Status)
				if tok != "-" {
					assert.NotContains(t, rec.Body.String(), tok)
				}
				assert.NotContains(t, rec.Body.String(), "database down")
				assert.NotContains(t, rec.Body.String(), "dial tcp")
				return
			}
			require.True(t, s.ran)
			assert.Equal(t, tc.wantFailover, s.failover)
			assert.Equal(t, !tc.wantFailover, s.hasResult, "ResultFromContext is ok only for a verified result")
			if s.hasResult {
				assert.True(t, s.result.VerificationPassed)
			}
		})
	}
}

func TestAllowedOrigins(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		origins []string
		want    int
	}{
		{[]string{"https://shop.example"}, 204},
		{[]string{"HTTPS://SHOP.EXAMPLE/"}, 204},
		{[]string{"https://other.example", "https://shop.example"}, 204},
		{[]string{"https://other.example"}, 400},
		{[]string{"http://shop.example"}, 400},
	} {
		var s seen
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: &stub{}, AllowedOrigins: tc.origins})(probe(&s))
		rec := send(h, tokHuman)
		assert.Equal(t, tc.want, rec.Code, "%v", tc.origins)
		if tc.want == 400 {
			assert.Contains(t, rec.Body.String(), "origin-not-allowed")
		}
	}
}

func TestClientGoneStopsTheRequest(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	v := trustcaptcha.VerifierFunc(func(ctx context.Context, token string) (*trustcaptcha.Result, error) {
		close(started)
		<-ctx.Done()
		// A verifier that ignores the cancellation and says "passed".
		return &trustcaptcha.Result{VerificationPassed: true, Score: 0}, nil
	})
	var s seen
	var d trustcaptcha.Decision
	h := trustcaptcha.RequireCaptcha(
		trustcaptcha.Options{Verifier: v, Failover: trustcaptcha.FailOpen, ReportOnly: true,
			OnDecision: func(_ *http.Request, dd trustcaptcha.Decision) { d = dd }},
	)(
		probe(&s),
	)
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodPost, "/contact", nil).WithContext(ctx)
	r.Header.Set("X-TC-Verification-Token", tokHuman)
	go func() { <-started; cancel() }()
	h.ServeHTTP(httptest.NewRecorder(), r)
	assert.False(t, s.ran, "the next handler ran for a client that went away")
	assert.Equal(t, "request-canceled", d.Reason)
	assert.ErrorIs(t, d.Err, context.Canceled)
}

func TestReportOnly(t *testing.T) {
	t.Parallel()
	var events []trustcaptcha.Decision
	var mu sync.Mutex
	opts := trustcaptcha.Options{Verifier: &stub{}, ReportOnly: true, MaxBodyBytes: 64,
		OnDecision: func(_ *http.Request, d trustcaptcha.Decision) { mu.Lock(); events = append(events, d); mu.Unlock() }}
	var s seen
	h := trustcaptcha.RequireCaptcha(opts)(probe(&s))

	rec := send(h, tokBot)
	assert.Equal(t, 204, rec.Code, "report-only never blocks")
	require.True(t, s.ran)
	assert.False(t, s.hasResult, "a result that would be rejected is not offered as passed")
	assert.False(t, s.decision.Admitted)
	assert.True(t, s.decision.ReportOnly)
	assert.Equal(t, "score-too-high", s.decision.Reason)
	assert.Equal(t, 0.9, s.decision.Score)
	assert.Equal(t, 400, s.decision.Status)

	// Even without a token the handler runs and the body is intact.
	s = seen{}
	r := httptest.NewRequest(http.MethodPost, "/contact", strings.NewReader(`{"a":1}`))
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(httptest.NewRecorder(), r)
	assert.True(t, s.ran)
	assert.Equal(t, `{"a":1}`, s.body)
	assert.Equal(t, "token-missing", s.decision.Reason)

	// An oversized body still gets 413: it cannot be handed on.
	s = seen{}
	r = httptest.NewRequest(http.MethodPost, "/contact", strings.NewReader(`{"a":"`+strings.Repeat("x", 100)+`"}`))
	r.Header.Set("Content-Type", "application/json")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, 413, rec.Code)
	assert.False(t, s.ran)
	assert.Len(t, events, 3)
}

func TestOnDecisionEvents(t *testing.T) {
	t.Parallel()
	var got []trustcaptcha.Decision
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: &stub{}, Logger: quietLogger(),
		OnDecision: func(_ *http.Request, d trustcaptcha.Decision) { got = append(got, d) }})(probe(&seen{}))
	for _, tok := range []string{tokHuman, tokBot} {
		send(h, tok)
	}
	require.Len(t, got, 2)
	assert.True(t, got[0].Admitted)
	assert.Equal(t, "passed", got[0].Reason)
	assert.NoError(t, got[0].Err)
	assert.Equal(t, 0.1, got[0].Score)
	assert.Zero(t, got[0].Status)
	assert.Positive(t, got[0].Latency)
	assert.False(t, got[1].Admitted)
	assert.Equal(t, "score-too-high", got[1].Reason)
	assert.ErrorIs(t, got[1].Err, trustcaptcha.ErrScoreTooHigh)
	assert.Equal(t, 400, got[1].Status)
	for _, d := range got {
		assert.NotContains(t, fmt.Sprintf("%+v %v", d, d.Err), tokHuman)
		assert.NotContains(t, fmt.Sprintf("%+v %v", d, d.Err), tokBot)
	}
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
