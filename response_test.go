package trustcaptcha_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/captchakit/trustcaptcha"
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
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: &stub{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			http.Redirect(w, r, "/contact?error="+trustcaptcha.Reason(err), http.StatusSeeOther)
		},
	})(probe(&seen{}))
	rec := send(h, tokFailed)
	assert.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "/contact?error=verification-failed", rec.Header().Get("Location"))
	assert.ErrorIs(t, got, trustcaptcha.ErrVerificationFailed)
	assert.Equal(t, 400, trustcaptcha.StatusCode(got))
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

// The reason codes are a contract: each sentinel maps to its code, its
// status and the code a client sees.
func TestReasonCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err            error
		reason, public string
		status         int
	}{
		{nil, "passed", "passed", 400},
		{trustcaptcha.ErrTokenMissing, "token-missing", "token-missing", 400},
		{trustcaptcha.ErrTokenInvalid, "token-invalid", "token-invalid", 400},
		{trustcaptcha.ErrAPIKeyInvalid, "api-key-invalid", "captcha-unavailable", 400},
		{trustcaptcha.ErrVerificationNotFound, "verification-not-found", "verification-not-found", 400},
		{trustcaptcha.ErrVerificationNotFinished, "verification-not-finished", "verification-not-finished", 400},
		{trustcaptcha.ErrResultExpired, "result-expired", "result-expired", 400},
		{trustcaptcha.ErrRetrievalLimitReached, "retrieval-limit-reached", "retrieval-limit-reached", 400},
		{trustcaptcha.ErrClientReportedFailover, "client-failover-unconfirmed", "client-failover-unconfirmed", 400},
		{trustcaptcha.ErrServerUnreachable, "server-unreachable", "captcha-unavailable", 400},
		{
			fmt.Errorf("%w: %w", trustcaptcha.ErrServerUnreachable, trustcaptcha.ErrBreakerOpen),
			"server-unreachable",
			"captcha-unavailable",
			400,
		},
		{
			fmt.Errorf("%w: %w", trustcaptcha.ErrFailoverLimitReached, trustcaptcha.ErrServerUnreachable),
			"failover-limit-reached",
			"captcha-unavailable",
			400,
		},
		{trustcaptcha.ErrUnexpectedResponse, "unexpected-response", "captcha-unavailable", 400},
		{trustcaptcha.ErrVerificationFailed, "verification-failed", "verification-failed", 400},
		{trustcaptcha.ErrScoreTooHigh, "score-too-high", "score-too-high", 400},
		{fmt.Errorf("wrapped: %w", trustcaptcha.ErrBodyTooLarge), "body-too-large", "body-too-large", 413},
		{trustcaptcha.ErrOriginNotAllowed, "origin-not-allowed", "origin-not-allowed", 400},
		{trustcaptcha.ErrIPMismatch, "ip-mismatch", "ip-mismatch", 400},
		{context.Canceled, "request-canceled", "request-canceled", 400},
		{errors.New("something else"), "unknown", "captcha-unavailable", 400},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.reason, trustcaptcha.Reason(tc.err), "%v", tc.err)
		assert.Equal(t, tc.public, trustcaptcha.PublicReason(tc.err), "%v", tc.err)
		assert.Equal(t, tc.status, trustcaptcha.StatusCode(tc.err), "%v", tc.err)
		if tc.err == nil {
			continue
		}
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Accept", "application/json")
		trustcaptcha.DefaultErrorHandler(rec, r, tc.err)
		p := problem(t, rec)
		assert.Equal(t, tc.public, p.Reason)
		assert.Equal(t, tc.status, rec.Code)
		assert.NotEmpty(t, p.Detail)
		assert.NotContains(t, rec.Body.String(), "something else")
	}
}
