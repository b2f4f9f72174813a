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

// The reason codes, documented on Reason.
const (
	reasonPassed               = "passed"
	reasonTokenMissing         = "token-missing"
	reasonTokenInvalid         = "token-invalid"
	reasonTokenReused          = "token-reused"
	reasonReplayUnavailable    = "replay-check-unavailable"
	reasonAPIKeyInvalid        = "api-key-invalid"
	reasonVerificationNotFound = "verification-not-found"
	reasonNotFinished          = "verification-not-finished"
	reasonResultExpired        = "result-expired"
	reasonRetrievalLimit       = "retrieval-limit-reached"
	reasonClientFailover       = "client-failover-unconfirmed"
	reasonServerUnreachable    = "server-unreachable"
	reasonFailoverLimit        = "failover-limit-reached"
	reasonUnexpectedResponse   = "unexpected-response"
	reasonVerificationFailed   = "verification-failed"
	reasonScoreTooHigh         = "score-too-high"
	reasonBodyTooLarge         = "body-too-large"
	reasonOriginNotAllowed     = "origin-not-allowed"
	reasonIPMismatch           = "ip-mismatch"
	reasonRequestCanceled      = "request-canceled"
	reasonCaptchaUnavailable   = "captcha-unavailable"
	reasonUnknown              = "unknown"
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
	{ErrBodyTooLarge, reasonBodyTooLarge, reasonBodyTooLarge, http.StatusRequestEntityTooLarge, false,
		"The request body is too large."},
	{ErrTokenMissing, reasonTokenMissing, reasonTokenMissing, http.StatusBadRequest, false,
		"The request carries no CAPTCHA verification token."},
	{ErrTokenInvalid, reasonTokenInvalid, reasonTokenInvalid, http.StatusBadRequest, false,
		"The CAPTCHA verification token is malformed."},
	{ErrTokenReused, reasonTokenReused, reasonTokenReused, http.StatusBadRequest, false,
		"This CAPTCHA was already used. " + detailSolveAgain},
	{ErrReplayCheckUnavailable, reasonReplayUnavailable, reasonCaptchaUnavailable, http.StatusBadRequest, true,
		detailUnavailable},
	{ErrAPIKeyInvalid, reasonAPIKeyInvalid, reasonCaptchaUnavailable, http.StatusBadRequest, true,
		detailUnavailable},
	{ErrVerificationNotFound, reasonVerificationNotFound, reasonVerificationNotFound, http.StatusBadRequest, false,
		"The CAPTCHA verification is unknown. " + detailSolveAgain},
	{ErrVerificationNotFinished, reasonNotFinished, reasonNotFinished, http.StatusBadRequest, false,
		"The CAPTCHA has not been completed yet."},
	{ErrResultExpired, reasonResultExpired, reasonResultExpired, http.StatusBadRequest, false,
		"The CAPTCHA verification has expired. " + detailSolveAgain},
	{ErrRetrievalLimitReached, reasonRetrievalLimit, reasonRetrievalLimit, http.StatusBadRequest, false,
		"This CAPTCHA verification was already used. " + detailSolveAgain},
	{ErrFailoverLimitReached, reasonFailoverLimit, reasonCaptchaUnavailable, http.StatusBadRequest, false,
		detailUnavailable},
	{ErrClientReportedFailover, reasonClientFailover, reasonClientFailover, http.StatusBadRequest, false,
		"The CAPTCHA could not be verified. Please try again."},
	{ErrServerUnreachable, reasonServerUnreachable, reasonCaptchaUnavailable, http.StatusBadRequest, false,
		detailUnavailable},
	{ErrUnexpectedResponse, reasonUnexpectedResponse, reasonCaptchaUnavailable, http.StatusBadRequest, true,
		detailUnavailable},
	{ErrVerificationFailed, reasonVerificationFailed, reasonVerificationFailed, http.StatusBadRequest, false,
		detailNotPassed},
	{ErrScoreTooHigh, reasonScoreTooHigh, reasonScoreTooHigh, http.StatusBadRequest, false,
		detailNotPassed},
	{ErrOriginNotAllowed, reasonOriginNotAllowed, reasonOriginNotAllowed, http.StatusBadRequest, false,
		"The CAPTCHA was solved on a site that is not accepted here."},
	{ErrIPMismatch, reasonIPMismatch, reasonIPMismatch, http.StatusBadRequest, false,
		"The CAPTCHA was solved from another network address."},
	{context.Canceled, reasonRequestCanceled, reasonRequestCanceled, http.StatusBadRequest, false,
		"The request was canceled or timed out before the CAPTCHA was verified."},
	{context.DeadlineExceeded, reasonRequestCanceled, reasonRequestCanceled, http.StatusBadRequest, false,
		"The request was canceled or timed out before the CAPTCHA was verified."},
}

// unknownCause is an error that wraps none of the sentinels (a custom
// Verifier's own error): the operator's business, unavailable to the client.
var unknownCause = cause{nil, reasonUnknown, reasonCaptchaUnavailable, http.StatusBadRequest, true, detailUnavailable}

// passedCause is the row of a nil error.
var passedCause = cause{nil, reasonPassed, reasonPassed, http.StatusBadRequest, false, detailUnavailable}

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

// Reason returns the stable, machine-readable reason code of err, as
// Decision.Reason and the "reason" member of the default problem+json
// response carry it. Match causes in code with errors.Is and the sentinel;
// the codes are for logs, metrics and clients:
//
//	passed                       nil: admitted
//	token-missing                ErrTokenMissing: no token in the header, form field or JSON member
//	token-invalid                ErrTokenInvalid: not the widget's format, or two different tokens
//	token-reused                 ErrTokenReused: the verification already admitted a request
//	verification-failed          ErrVerificationFailed: the API says it did not pass
//	score-too-high               ErrScoreTooHigh: bot score above Options.Threshold
//	verification-not-found       ErrVerificationNotFound: API 404
//	verification-not-finished    ErrVerificationNotFinished: API 423
//	result-expired               ErrResultExpired: API 410
//	retrieval-limit-reached      ErrRetrievalLimitReached: API 429
//	client-failover-unconfirmed  ErrClientReportedFailover: API 412, not admitted by the policy
//	origin-not-allowed           ErrOriginNotAllowed: not in Options.AllowedOrigins
//	ip-mismatch                  ErrIPMismatch: Options.MatchClientIP, another address solved it
//	body-too-large               ErrBodyTooLarge: over a size limit (the status is 413)
//	request-canceled             context.Canceled, context.DeadlineExceeded: the client went away
//	server-unreachable           ErrServerUnreachable (ErrBreakerOpen, ErrInFlightLimit): an outage
//	failover-limit-reached       ErrFailoverLimitReached: the failover budget is spent
//	api-key-invalid              ErrAPIKeyInvalid: API 403, your key (logged as an error)
//	unexpected-response          ErrUnexpectedResponse: outside the protocol (logged as an error)
//	replay-check-unavailable     ErrReplayCheckUnavailable: the ReplayStore failed (logged as an error)
//	unknown                      none: a custom Verifier's error (logged as an error)
//
// The last six are the operator's business: PublicReason shows them to a
// client as captcha-unavailable.
func Reason(err error) string { return causeOf(err).reason }

// PublicReason returns the reason code of err that is safe to show a client:
// Reason(err), except that causes which are the operator's business (a bad
// key, an API answer outside the protocol, an outage, a spent failover budget,
// a failed replay store, an unknown error) all read "captcha-unavailable",
// so a client learns nothing about the server's configuration. A nil error is
// "passed". DefaultErrorHandler shows it.
func PublicReason(err error) string { return causeOf(err).public }
