package trustcaptcha_test

// The table of causes (errors.go): every sentinel's reason code, public
// reason and status.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/captchakit/trustcaptcha"
	"github.com/stretchr/testify/assert"
)

// The table of causes: reason codes and statuses.

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
