package trustcaptcha

import (
	"context"
	"errors"
	"net/http"
)

// Sentinel errors. Every rejection the middleware makes wraps at least one of
// them (errors.Is matches it whatever wraps it), and the table of causes below
// gives each its reason code, the reason a client is shown and the status.
var (
	// ErrTokenMissing: the request carried no verification token (no header,
	// no form field, no top-level JSON string member), or its body could not be
	// parsed. No API call was made.
	ErrTokenMissing = errors.New("trustcaptcha: verification token missing")

	// ErrTokenInvalid: the token is not the widget's format (standard base64 of
	// a JSON object with a UUID verificationId), or the request carried two
	// different tokens. No API call was made.
	ErrTokenInvalid = errors.New("trustcaptcha: verification token invalid")

	// ErrTokenReused: the verification was already used to admit a request
	// (see Options.ReplayStore). The client must solve the CAPTCHA again.
	ErrTokenReused = errors.New("trustcaptcha: verification token already used")

	// ErrReplayCheckUnavailable: the ReplayStore failed, so the middleware
	// cannot tell whether the token was used before. The request is rejected
	// and the operator is told; no failover policy is consulted.
	ErrReplayCheckUnavailable = errors.New("trustcaptcha: replay check unavailable")

	// ErrAPIKeyInvalid: the API rejected the secret key (HTTP 403). This is a
	// misconfiguration of the server; it is never admitted by a failover policy.
	ErrAPIKeyInvalid = errors.New("trustcaptcha: API key rejected by the TrustCaptcha API")

	// ErrVerificationNotFound: the API knows no verification with the token's ID (HTTP 404).
	ErrVerificationNotFound = errors.New("trustcaptcha: verification not found")

	// ErrVerificationNotFinished: the verification has not finished yet (HTTP 423).
	ErrVerificationNotFinished = errors.New("trustcaptcha: verification not finished")

	// ErrResultExpired: the verification result has expired (HTTP 410).
	ErrResultExpired = errors.New("trustcaptcha: verification result expired")

	// ErrRetrievalLimitReached: the result was fetched too often (HTTP 429).
	// Never admitted by a failover policy.
	ErrRetrievalLimitReached = errors.New("trustcaptcha: result retrieval limit reached")

	// ErrClientReportedFailover: the token claims the browser could not reach
	// the API, and the API saw no outage (HTTP 412). Anyone can forge such a
	// token; FailOpen does not admit it.
	ErrClientReportedFailover = errors.New("trustcaptcha: client-reported failover not confirmed by the API")

	// ErrServerUnreachable: this server could not get an answer from the API
	// (connection error, timeout, HTTP 5xx, the outage breaker is open, or
	// too many verifications are already waiting). The failover policy decides.
	ErrServerUnreachable = errors.New("trustcaptcha: TrustCaptcha API unreachable")

	// ErrBreakerOpen: the Client did not call the API because it failed
	// repeatedly and the breaker's cool-down is running. The error the Client
	// returns wraps both ErrBreakerOpen and ErrServerUnreachable.
	ErrBreakerOpen = errors.New("trustcaptcha: outage breaker open")

	// ErrInFlightLimit: the Client did not call the API because as many
	// verifications as WithMaxInFlight allows are already waiting on it. The
	// error the Client returns wraps both ErrInFlightLimit and
	// ErrServerUnreachable (its reason code is server-unreachable), so the
	// failover policy decides.
	ErrInFlightLimit = errors.New("trustcaptcha: too many verifications in flight")

	// ErrUnexpectedResponse: the API answered something the protocol does not
	// define (a redirect, another status, a 200 whose body is not a valid
	// result). It is not an outage: failover policies never admit it.
	ErrUnexpectedResponse = errors.New("trustcaptcha: unexpected response from the TrustCaptcha API")

	// ErrVerificationFailed: the API says the verification did not pass.
	ErrVerificationFailed = errors.New("trustcaptcha: verification failed")

	// ErrScoreTooHigh: the verification passed, but its bot score is above
	// the configured threshold.
	ErrScoreTooHigh = errors.New("trustcaptcha: bot score above threshold")

	// ErrBodyTooLarge: the request body is larger than the configured limit.
	// The default response is 413.
	ErrBodyTooLarge = errors.New("trustcaptcha: request body too large")

	// ErrOriginNotAllowed: the result's Origin is not in Options.AllowedOrigins.
	ErrOriginNotAllowed = errors.New("trustcaptcha: verification origin not allowed")

	// ErrIPMismatch: Options.MatchClientIP is set and the IP address that solved
	// the CAPTCHA is not the request's client IP.
	ErrIPMismatch = errors.New("trustcaptcha: verification IP does not match client IP")

	// ErrFailoverLimitReached: a policy made by LimitFailover or
	// LimitFailoverShared would have admitted the request during an outage,
	// but its budget for the current window is spent (or, for a shared budget,
	// its Counter failed). The rejection wraps it and the outage cause.
	ErrFailoverLimitReached = errors.New("trustcaptcha: failover admission budget spent")
)

// Reason codes: stable, machine-readable strings for each cause. They appear
// in the default problem+json response ("reason" member), in Decision.Reason,
// and are returned by Reason and PublicReason.
const (
	ReasonPassed               = "passed"
	ReasonTokenMissing         = "token-missing"
	ReasonTokenInvalid         = "token-invalid"
	ReasonTokenReused          = "token-reused"
	ReasonReplayUnavailable    = "replay-check-unavailable"
	ReasonAPIKeyInvalid        = "api-key-invalid"
	ReasonVerificationNotFound = "verification-not-found"
	ReasonNotFinished          = "verification-not-finished"
	ReasonResultExpired        = "result-expired"
	ReasonRetrievalLimit       = "retrieval-limit-reached"
	ReasonClientFailover       = "client-failover-unconfirmed"
	ReasonServerUnreachable    = "server-unreachable"
	ReasonFailoverLimit        = "failover-limit-reached"
	ReasonUnexpectedResponse   = "unexpected-response"
	ReasonVerificationFailed   = "verification-failed"
	ReasonScoreTooHigh         = "score-too-high"
	ReasonBodyTooLarge         = "body-too-large"
	ReasonOriginNotAllowed     = "origin-not-allowed"
	ReasonIPMismatch           = "ip-mismatch"
	ReasonRequestCanceled      = "request-canceled"
	ReasonCaptchaUnavailable   = "captcha-unavailable"
	ReasonUnknown              = "unknown"
)

// The client-facing explanations; the operator's causes all share one.
const (
	detailUnavailable = "The CAPTCHA cannot be verified right now. Please try again later."
	detailSolveAgain  = "Please solve the CAPTCHA again."
	detailNotPassed   = "The CAPTCHA verification did not pass."
)

// cause is one row of the table of causes.
type cause struct {
	err      error  // the sentinel; nil for the row of unknown errors
	reason   string // Reason
	public   string // PublicReason: what a client may learn
	status   int    // StatusCode
	operator bool   // logged at level Error: the operator must act
	detail   string // the sentence of the default response
}

// causes is the one table of causes. It is ordered: the first row whose
// sentinel err wraps wins, so a more specific cause comes before the causes
// its errors also wrap (a spent failover budget before the outage it wraps).
var causes = []cause{
	{ErrBodyTooLarge, ReasonBodyTooLarge, ReasonBodyTooLarge, http.StatusRequestEntityTooLarge, false,
		"The request body is too large."},
	{ErrTokenMissing, ReasonTokenMissing, ReasonTokenMissing, http.StatusBadRequest, false,
		"The request carries no CAPTCHA verification token."},
	{ErrTokenInvalid, ReasonTokenInvalid, ReasonTokenInvalid, http.StatusBadRequest, false,
		"The CAPTCHA verification token is malformed."},
	{ErrTokenReused, ReasonTokenReused, ReasonTokenReused, http.StatusBadRequest, false,
		"This CAPTCHA was already used. " + detailSolveAgain},
	{ErrReplayCheckUnavailable, ReasonReplayUnavailable, ReasonCaptchaUnavailable, http.StatusBadRequest, true,
		detailUnavailable},
	{ErrAPIKeyInvalid, ReasonAPIKeyInvalid, ReasonCaptchaUnavailable, http.StatusBadRequest, true,
		detailUnavailable},
	{ErrVerificationNotFound, ReasonVerificationNotFound, ReasonVerificationNotFound, http.StatusBadRequest, false,
		"The CAPTCHA verification is unknown. " + detailSolveAgain},
	{ErrVerificationNotFinished, ReasonNotFinished, ReasonNotFinished, http.StatusBadRequest, false,
		"The CAPTCHA has not been completed yet."},
	{ErrResultExpired, ReasonResultExpired, ReasonResultExpired, http.StatusBadRequest, false,
		"The CAPTCHA verification has expired. " + detailSolveAgain},
	{ErrRetrievalLimitReached, ReasonRetrievalLimit, ReasonRetrievalLimit, http.StatusBadRequest, false,
		"This CAPTCHA verification was already used. " + detailSolveAgain},
	{ErrFailoverLimitReached, ReasonFailoverLimit, ReasonCaptchaUnavailable, http.StatusBadRequest, false,
		detailUnavailable},
	{ErrClientReportedFailover, ReasonClientFailover, ReasonClientFailover, http.StatusBadRequest, false,
		"The CAPTCHA could not be verified. Please try again."},
	{ErrServerUnreachable, ReasonServerUnreachable, ReasonCaptchaUnavailable, http.StatusBadRequest, false,
		detailUnavailable},
	{ErrUnexpectedResponse, ReasonUnexpectedResponse, ReasonCaptchaUnavailable, http.StatusBadRequest, true,
		detailUnavailable},
	{ErrVerificationFailed, ReasonVerificationFailed, ReasonVerificationFailed, http.StatusBadRequest, false,
		detailNotPassed},
	{ErrScoreTooHigh, ReasonScoreTooHigh, ReasonScoreTooHigh, http.StatusBadRequest, false,
		detailNotPassed},
	{ErrOriginNotAllowed, ReasonOriginNotAllowed, ReasonOriginNotAllowed, http.StatusBadRequest, false,
		"The CAPTCHA was solved on a site that is not accepted here."},
	{ErrIPMismatch, ReasonIPMismatch, ReasonIPMismatch, http.StatusBadRequest, false,
		"The CAPTCHA was solved from another network address."},
	{context.Canceled, ReasonRequestCanceled, ReasonRequestCanceled, http.StatusBadRequest, false,
		"The request was canceled or timed out before the CAPTCHA was verified."},
	{context.DeadlineExceeded, ReasonRequestCanceled, ReasonRequestCanceled, http.StatusBadRequest, false,
		"The request was canceled or timed out before the CAPTCHA was verified."},
}

// unknownCause is an error that wraps none of the sentinels (a custom
// Verifier's own error): the operator's business, unavailable to the client.
var unknownCause = cause{nil, ReasonUnknown, ReasonCaptchaUnavailable, http.StatusBadRequest, true, detailUnavailable}

// passedCause is the row of a nil error.
var passedCause = cause{nil, ReasonPassed, ReasonPassed, http.StatusBadRequest, false, detailUnavailable}

// causeOf returns the row of the table that explains err: the row a
// Decision's rejection carries, or the first row whose sentinel err wraps.
func causeOf(err error) *cause {
	if err == nil {
		return &passedCause
	}
	if r, ok := err.(*rejection); ok {
		return r.cause
	}
	for i := range causes {
		if errors.Is(err, causes[i].err) {
			return &causes[i]
		}
	}
	return &unknownCause
}

// Reason returns the stable reason code of err: one of the Reason* constants.
// A nil error is ReasonPassed; an error that wraps none of this package's
// sentinels (say, from a custom Verifier) is ReasonUnknown.
func Reason(err error) string { return causeOf(err).reason }

// PublicReason returns the reason code of err that is safe to show a client:
// Reason(err), except that causes which are the operator's business (a bad
// key, an API answer outside the protocol, an outage, a spent failover budget,
// a failed replay store, an unknown error) all read ReasonCaptchaUnavailable,
// so a client learns nothing about the server's configuration. A nil error is
// ReasonPassed. DefaultErrorHandler shows it.
func PublicReason(err error) string { return causeOf(err).public }
