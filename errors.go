package trustcaptcha

import (
	"context"
	"errors"
	"net/http"
)

// Sentinel errors, matched with errors.Is whatever wraps them.
//
// A rejection's error wraps the sentinel of its cause. There are two
// exceptions: the error of a request whose client went away wraps
// context.Canceled or context.DeadlineExceeded instead (reason
// request-canceled), and a custom Verifier's error may wrap none (reason
// "unknown").
//
// The doc of each sentinel names its reason code (see Reason). A "hidden"
// reason reads captcha-unavailable to clients. An "operator" reason does
// too, and is also logged as an error for the operator (see
// Options.Logger). ErrBreakerOpen and ErrInFlightLimit have no reason of
// their own: they come wrapped with ErrServerUnreachable, whose reason they
// take.
var (
	// ErrTokenMissing (token-missing): no token in the header, form field or
	// JSON member, or a body that could not be read.
	ErrTokenMissing = errors.New("trustcaptcha: verification token missing")

	// ErrTokenInvalid (token-invalid): not the widget's token format, or two
	// different tokens in one request.
	ErrTokenInvalid = errors.New("trustcaptcha: verification token invalid")

	// ErrTokenReused (token-reused): the verification already admitted a
	// request (see Options.ReplayStore).
	ErrTokenReused = errors.New("trustcaptcha: verification token already used")

	// ErrReplayCheckUnavailable (replay-check-unavailable, operator): the
	// ReplayStore failed.
	ErrReplayCheckUnavailable = errors.New("trustcaptcha: replay check unavailable")

	// ErrAPIKeyInvalid (api-key-invalid, operator): the API rejected the
	// secret key (HTTP 403).
	ErrAPIKeyInvalid = errors.New("trustcaptcha: API key rejected by the TrustCaptcha API")

	// ErrVerificationNotFound (verification-not-found): no verification has
	// the token's ID (HTTP 404).
	ErrVerificationNotFound = errors.New("trustcaptcha: verification not found")

	// ErrVerificationNotFinished (verification-not-finished): the
	// verification is not finished (HTTP 423).
	ErrVerificationNotFinished = errors.New("trustcaptcha: verification not finished")

	// ErrResultExpired (result-expired): the verification's result has
	// expired (HTTP 410).
	ErrResultExpired = errors.New("trustcaptcha: verification result expired")

	// ErrRetrievalLimitReached (retrieval-limit-reached): the result was
	// fetched too often (HTTP 429).
	ErrRetrievalLimitReached = errors.New("trustcaptcha: result retrieval limit reached")

	// ErrClientReportedFailover (client-failover-unconfirmed): the token says
	// the browser could not reach the API, which saw no outage (HTTP 412).
	// Anyone can forge such a token, so FailOpen rejects it.
	ErrClientReportedFailover = errors.New(
		"trustcaptcha: client-reported failover not confirmed by the API")

	// ErrServerUnreachable (server-unreachable, hidden): no answer from the
	// API: a network error, a timeout, HTTP 5xx, ErrBreakerOpen,
	// ErrInFlightLimit, or a Verifier's own context ending while the request
	// is alive. The failover policy decides.
	ErrServerUnreachable = errors.New("trustcaptcha: TrustCaptcha API unreachable")

	// ErrBreakerOpen: the Client's outage breaker is open. It comes wrapped
	// with ErrServerUnreachable.
	ErrBreakerOpen = errors.New("trustcaptcha: outage breaker open")

	// ErrInFlightLimit: as many verifications as WithMaxInFlight allows
	// already wait on the API. It comes wrapped with ErrServerUnreachable.
	ErrInFlightLimit = errors.New("trustcaptcha: too many verifications in flight")

	// ErrUnexpectedResponse (unexpected-response, operator): an API answer
	// outside the protocol, such as a redirect, another status or an invalid
	// result. It is never admitted on failover.
	ErrUnexpectedResponse = errors.New("trustcaptcha: unexpected response from the TrustCaptcha API")

	// ErrVerificationFailed (verification-failed): the API says the
	// verification did not pass.
	ErrVerificationFailed = errors.New("trustcaptcha: verification failed")

	// ErrScoreTooHigh (score-too-high): the bot score is above
	// Options.Threshold.
	ErrScoreTooHigh = errors.New("trustcaptcha: bot score above threshold")

	// ErrBodyTooLarge (body-too-large): the request body is over a size
	// limit. Its status is 413.
	ErrBodyTooLarge = errors.New("trustcaptcha: request body too large")

	// ErrOriginNotAllowed (origin-not-allowed): the result's Origin is not in
	// Options.AllowedOrigins.
	ErrOriginNotAllowed = errors.New("trustcaptcha: verification origin not allowed")

	// ErrIPMismatch (ip-mismatch): another address solved the CAPTCHA (see
	// Options.MatchClientIP).
	ErrIPMismatch = errors.New("trustcaptcha: verification IP does not match client IP")

	// ErrFailoverLimitReached (failover-limit-reached, hidden): the budget of
	// LimitFailover or LimitFailoverShared is spent, or its Counter failed.
	// It comes wrapped with the outage.
	ErrFailoverLimitReached = errors.New("trustcaptcha: failover admission budget spent")
)

// audience says who a cause is for.
type audience int

const (
	client   audience = iota // the reason is shown to the client
	outage                   // shown to the client as captcha-unavailable
	operator                 // the same, and logged at level Error: the operator must act
)

const (
	unavailable    = "captcha-unavailable"
	canceledReason = "request-canceled"
	solveAgain     = " Please solve the CAPTCHA again."
	notPassed      = "The CAPTCHA verification did not pass."
	canceled       = "The request was canceled or timed out before the CAPTCHA was verified."
)

// cause is one row of the table of causes.
type cause struct {
	err    error // the sentinel; nil for passed and unknown
	reason string
	status int
	aud    audience
	detail string // the sentence of the default response; "" for unavailable
	// enforced rejects even in ReportOnly mode, and is never turned into
	// request-canceled: an oversized body (it was not read whole, and
	// net/http may cancel the context of such a request) and a request
	// nobody waits for.
	enforced bool
}

// causes is the one table of causes, ordered: the first row whose sentinel
// the error wraps wins, so a spent failover budget comes before its outage.
var causes = []cause{
	{ErrBodyTooLarge, "body-too-large", http.StatusRequestEntityTooLarge, client,
		"The request body is too large.", true},
	row(ErrTokenMissing, "token-missing", client,
		"The request carries no CAPTCHA verification token."),
	row(ErrTokenInvalid, "token-invalid", client, "The CAPTCHA verification token is malformed."),
	row(ErrTokenReused, "token-reused", client, "This CAPTCHA was already used."+solveAgain),
	row(ErrReplayCheckUnavailable, "replay-check-unavailable", operator, ""),
	row(ErrAPIKeyInvalid, "api-key-invalid", operator, ""),
	row(ErrVerificationNotFound, "verification-not-found", client,
		"The CAPTCHA verification is unknown."+solveAgain),
	row(ErrVerificationNotFinished, "verification-not-finished", client,
		"The CAPTCHA has not been completed yet."),
	row(ErrResultExpired, "result-expired", client,
		"The CAPTCHA verification has expired."+solveAgain),
	row(ErrRetrievalLimitReached, "retrieval-limit-reached", client,
		"This CAPTCHA verification was already used."+solveAgain),
	row(ErrFailoverLimitReached, "failover-limit-reached", outage, ""),
	row(ErrClientReportedFailover, "client-failover-unconfirmed", client,
		"The CAPTCHA could not be verified. Please try again."),
	row(ErrServerUnreachable, "server-unreachable", outage, ""),
	row(ErrUnexpectedResponse, "unexpected-response", operator, ""),
	row(ErrVerificationFailed, "verification-failed", client, notPassed),
	row(ErrScoreTooHigh, "score-too-high", client, notPassed),
	row(ErrOriginNotAllowed, "origin-not-allowed", client,
		"The CAPTCHA was solved on a site that is not accepted here."),
	row(ErrIPMismatch, "ip-mismatch", client, "The CAPTCHA was solved from another network address."),
	{context.Canceled, canceledReason, http.StatusBadRequest, client, canceled, true},
	{context.DeadlineExceeded, canceledReason, http.StatusBadRequest, client, canceled, true},
}

// row is a cause answered with 400 and not enforced in ReportOnly mode.
func row(err error, reason string, aud audience, detail string) cause {
	return cause{err, reason, http.StatusBadRequest, aud, detail, false}
}

var (
	passedCause      = row(nil, "passed", client, "")
	notRequiredCause = row(nil, "not-required", client, "") // see Options.Required
	unknownCause     = row(nil, "unknown", operator, "")    // a custom Verifier's own error
)

// causeOf returns the row that explains err: the one a Decision's Err
// carries, or else the first whose sentinel err wraps (the same row, for a
// Decision's Err that another error wraps).
func causeOf(err error) *cause {
	if err == nil {
		return &passedCause
	}
	if ce, ok := err.(*causeError); ok {
		return ce.cause
	}
	for i := range causes {
		if errors.Is(err, causes[i].err) {
			return &causes[i]
		}
	}
	return &unknownCause
}

// public is the reason a client may learn.
func (c *cause) public() string {
	if c.aud == client {
		return c.reason
	}
	return unavailable
}

// Reason returns the stable reason code of err (Decision.Reason, the default
// response's "reason"): the one its sentinel names, "passed" for nil,
// "request-canceled" when the request's own context ended (the client went
// away or its deadline passed), and
// "unknown" (operator) for an error that wraps no sentinel.
func Reason(err error) string { return causeOf(err).reason }

// PublicReason returns the reason code of err that is safe to show a client,
// as DefaultErrorHandler does: Reason(err), but "captcha-unavailable" for the
// hidden and operator causes, which are the server's business.
func PublicReason(err error) string { return causeOf(err).public() }

// StatusCode returns the HTTP status of a rejection for err: 413 for
// ErrBodyTooLarge, 400 for everything else (nil included).
func StatusCode(err error) int { return causeOf(err).status }
