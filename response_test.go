package trustcaptcha_test

// The default answer to a rejection (response.go) and a custom ErrorHandler.

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/captchakit/trustcaptcha"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRejectionResponse(t *testing.T) {
	t.Parallel()
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: &stub{}, Logger: quietLogger()})(probe(&seen{}))
	cases := []struct {
		name, accept, contentType, wantType string
	}{
		{
			"browser form post gets text",
			"text/html,application/xhtml+xml,*/*;q=0.8",
			"application/x-www-form-urlencoded",
			"text/plain; charset=utf-8",
		},
		{"JSON client gets problem+json", "application/json", "application/json", "application/problem+json"},
		{"JSON body, no Accept", "", "application/json", "application/problem+json"},
		{"curl default", "*/*", "", "text/plain; charset=utf-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/contact", strings.NewReader(`{}`))
			r.Header.Set("Accept", tc.accept)
			r.Header.Set("Content-Type", tc.contentType)
			r.Header.Set("X-TC-Verification-Token", tokBot)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			assert.Equal(t, 400, rec.Code)
			assert.Equal(t, tc.wantType, rec.Header().Get("Content-Type"))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Contains(t, rec.Body.String(), "score-too-high")
			assert.NotContains(t, rec.Body.String(), tokBot)
			assert.NotContains(t, rec.Body.String(), "0.90", "the score is not told to the client")
		})
	}
}

func TestCustomErrorHandler(t *testing.T) {
	t.Parallel()
	var got error
	var decided trustcaptcha.Decision
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: &stub{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			decided, _ = trustcaptcha.DecisionFromContext(r.Context())
			http.Redirect(w, r, "/contact?error="+trustcaptcha.Reason(err), http.StatusSeeOther)
		},
	})(probe(&seen{}))
	rec := send(h, tokFailed)
	assert.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "/contact?error=verification-failed", rec.Header().Get("Location"))
	assert.ErrorIs(t, got, trustcaptcha.ErrVerificationFailed)
	assert.Equal(t, 400, trustcaptcha.StatusCode(got))
	assert.Equal(t, "verification-failed", decided.Reason, "the ErrorHandler's request carries the Decision")
	assert.False(t, decided.Admitted)
	require.NotNil(t, decided.Result)
}

func TestOperatorErrorsAreLoggedNotShown(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	v := &stub{err: fmt.Errorf("%w (HTTP 403)", trustcaptcha.ErrAPIKeyInvalid)}
	h := trustcaptcha.RequireCaptcha(
		trustcaptcha.Options{Verifier: v, Logger: slog.New(slog.NewTextHandler(&logs, nil))},
	)(
		probe(&seen{}),
	)
	rec := send(h, tokHuman)
	assert.Equal(t, 400, rec.Code)
	assert.NotContains(t, rec.Body.String(), "key")
	assert.Contains(t, logs.String(), "level=ERROR")
	assert.Contains(t, logs.String(), "api-key-invalid")
	assert.NotContains(t, logs.String(), tokHuman)

	// A client mistake is not the operator's problem: nothing logged.
	logs.Reset()
	send(h, "")
	assert.Empty(t, logs.String())
}

// TestErrorHandlerErrCarriesItsCause: the error an ErrorHandler receives
// carries its cause and, for a missing token, where the middleware looked,
// so DefaultErrorHandler answers the same when the ErrorHandler wraps it and
// hands it a request without the Decision (a fresh one, as a framework may).
func TestErrorHandlerErrCarriesItsCause(t *testing.T) {
	t.Parallel()
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: &stub{}, Logger: quietLogger(),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			fresh := httptest.NewRequest(r.Method, r.URL.Path, nil)
			fresh.Header = r.Header
			trustcaptcha.DefaultErrorHandler(w, fresh, fmt.Errorf("my app: %w", err))
		},
	})(probe(&seen{}))
	direct := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: &stub{}, Logger: quietLogger()})(probe(&seen{}))
	for _, token := range []string{"", tokBot} {
		want, got := send(direct, token), send(h, token)
		assert.Equal(t, want.Code, got.Code)
		assert.Equal(t, want.Body.String(), got.Body.String())
	}
	assert.Contains(t, send(h, "").Body.String(), `looked for the form field or JSON member "tc-verification-token"`)
}
