package trustcaptcha

import (
	"context"
	"errors"
)

// Sentinel errors. Every error this package returns, from the Client or from the
// middleware, wraps exactly one of them (errors.Is matches it whatever wraps it),
// and Reason maps each to a stable, machine-readable reason code.
var (
	// ErrTokenMissing: the request carried no verification token (no header,
	// no form field, no top-level JSON string member), or its body could not be
	// parsed. No API call was made.
	ErrTokenMissing = errors.New("trustcaptcha: verification token missing")

	// ErrTokenInvalid: the token is not the widget's format (standard base64 of
	// a JSON object with a UUID verificationId), or the request carried two
	// different tokens. No API call was made.
	ErrTokenInvalid = errors.New("trustcaptcha: verification token invalid")

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
	// (connection error, timeout, HTTP 5xx, or the outage breaker is open).
	// The failover policy decides what happens.
	ErrServerUnreachable = errors.New("trustcaptcha: TrustCaptcha API unreachable")

	// ErrBreakerOpen wraps ErrServerUnreachable: the client did not call the
	// API because it failed repeatedly and the breaker's cool-down is running.
	ErrBreakerOpen = errors.New("trustcaptcha: outage breaker open")

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

	// ErrFailoverLimitReached wraps the outage error it was given: a policy made
	// by LimitFailover would have admitted the request but its budget for the
	// current interval is spent.
	ErrFailoverLimitReached = errors.New("trustcaptcha: failover admission budget spent")
)

// Reason codes: stable, machine-readable strings for each cause. They appear
// in the default problem+json response ("reason" member), in Decision.Reason,
// and are returned by Reason.
const (
	ReasonPassed               = "passed"
	ReasonTokenMissing         = "token-missing"
	ReasonTokenInvalid         = "token-invalid"
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

// reasonTable is ordered: the first sentinel that matches wins, so the more
// specific causes come before the ones they wrap.
var reasonTable = []struct {
	err    error
	reason string
}{
	{ErrBodyTooLarge, ReasonBodyTooLarge},
	{ErrTokenMissing, ReasonTokenMissing},
	{ErrTokenInvalid, ReasonTokenInvalid},
	{ErrAPIKeyInvalid, ReasonAPIKeyInvalid},
	{ErrVerificationNotFound, ReasonVerificationNotFound},
	{ErrVerificationNotFinished, ReasonNotFinished},
	{ErrResultExpired, ReasonResultExpired},
	{ErrRetrievalLimitReached, ReasonRetrievalLimit},
	{ErrClientReportedFailover, ReasonClientFailover},
	{ErrFailoverLimitReached, ReasonFailoverLimit},
	{ErrServerUnreachable, ReasonServerUnreachable},
	{ErrUnexpectedResponse, ReasonUnexpectedResponse},
	{ErrVerificationFailed, ReasonVerificationFailed},
	{ErrScoreTooHigh, ReasonScoreTooHigh},
	{ErrOriginNotAllowed, ReasonOriginNotAllowed},
	{ErrIPMismatch, ReasonIPMismatch},
	{context.Canceled, ReasonRequestCanceled},
	{context.DeadlineExceeded, ReasonRequestCanceled},
}

// Reason returns the stable reason code of err: one of the Reason* constants.
// A nil error is ReasonPassed; an error that wraps none of this package's
// sentinels (say, from a custom Verifier) is ReasonUnknown.
func Reason(err error) string {
	if err == nil {
		return ReasonPassed
	}
	for _, e := range reasonTable {
		if errors.Is(err, e.err) {
			return e.reason
		}
	}
	return ReasonUnknown
}

// PublicReason returns the reason code of err that is safe to show a client:
// Reason(err), except that causes which are the operator's business (a bad
// key, an API answer outside the protocol, an outage, a spent failover budget,
// an unknown error) all read ReasonCaptchaUnavailable, so a client learns
// nothing about the server's configuration. DefaultErrorHandler shows it.
func PublicReason(err error) string { return publicReason(Reason(err)) }

func publicReason(reason string) string {
	switch reason {
	case ReasonAPIKeyInvalid, ReasonUnexpectedResponse, ReasonServerUnreachable, ReasonFailoverLimit, ReasonUnknown:
		return ReasonCaptchaUnavailable
	}
	return reason
}

// operatorError reports whether err is the operator's problem (bad key, an API
// answer outside the protocol, or an error no sentinel explains) and is
// therefore logged loudly.
func operatorError(err error) bool {
	r := Reason(err)
	return r == ReasonAPIKeyInvalid || r == ReasonUnexpectedResponse || r == ReasonUnknown
}
