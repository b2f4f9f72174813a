package trustcaptcha

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// How a request is decided: check asks the Verifier and judges its answer
// (or the outage, for the FailoverPolicy), claim makes the verification
// single-use, and decide turns what they found into the Decision that the
// middleware enforces.

// Decision is what the middleware decided for one request. OnDecision
// receives it, and the next handler (or, for a rejection, the ErrorHandler)
// reads it with DecisionFromContext. The zero value admits nothing and
// names no reason.
type Decision struct {
	// Admitted is true when the result passed, when the failover policy let
	// the request through, or when Options.Required said the request needs
	// no CAPTCHA. In ReportOnly mode it says what would have been decided.
	Admitted bool

	// Failover is true when the failover policy admitted the request
	// without a verified result.
	Failover bool

	// ReportOnly is true when the decision was not enforced.
	ReportOnly bool

	// Reason is the reason code of Err (see Reason): "passed", or the cause,
	// also of an admission on failover. It is "not-required" for a request
	// without a token that Options.Required let through unverified.
	Reason string

	// Err is the cause, matched with errors.Is; nil when the result passed.
	Err error

	// Result is the API's result; nil when there was none.
	Result *Result

	// Score is Result.Score, or -1 without a result.
	Score float64

	// Status is the status of a rejection (400 or 413); 0 when admitted.
	Status int

	// Latency is the time spent reading the token and verifying it.
	Latency time.Duration

	cause *cause // Err's row in the table of causes
}

type decisionKey struct{}

// DecisionFromContext returns the decision RequireCaptcha made for the
// request whose context is ctx. ok is false outside the middleware or when
// Skip let the request through.
func DecisionFromContext(ctx context.Context) (Decision, bool) {
	if p, ok := ctx.Value(decisionKey{}).(*Decision); ok {
		return *p, true
	}
	return Decision{}, false
}

// ResultFromContext returns the result of a request that passed every check.
// It returns (nil, false) for a request admitted on failover or without a
// CAPTCHA (Options.Required), for one that would have been rejected in
// ReportOnly mode, and outside the middleware.
func ResultFromContext(ctx context.Context) (*Result, bool) {
	d, ok := ctx.Value(decisionKey{}).(*Decision)
	if !ok || !d.Admitted || d.Failover || d.Result == nil {
		return nil, false
	}
	return d.Result, true
}

// AdmittedByFailover reports whether the failover policy let the request
// through without a verified result, so the handler can add friction (a
// second factor, moderation, a lower limit).
func AdmittedByFailover(ctx context.Context) bool {
	d, ok := ctx.Value(decisionKey{}).(*Decision)
	return ok && d.Admitted && d.Failover
}

// causeError is a Decision's Err: the cause, its row in the table of causes,
// and for a missing token the hint that says where the middleware looked.
// DefaultErrorHandler reads the row and the hint from it.
type causeError struct {
	err   error
	cause *cause
	hint  string
}

func (e *causeError) Error() string {
	if e.hint == "" {
		return e.err.Error()
	}
	return e.err.Error() + " (" + e.hint + ")"
}

func (e *causeError) Unwrap() error { return e.err }

// asCauseError returns the *causeError that err is or wraps.
func asCauseError(err error) (*causeError, bool) {
	if ce, ok := err.(*causeError); ok {
		return ce, true
	}
	var ce *causeError
	return ce, errors.As(err, &ce)
}

// abandoned returns an error wrapping ctx's own error once ctx has ended
// (its reason is request-canceled), and nil while it is alive. The Client
// and the middleware both ask it whose context ended: the request's, which
// ends the work, or a Verifier's own, which is an outage.
func abandoned(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("trustcaptcha: request abandoned: %w", err)
	}
	return nil
}

// verdict is what check found for one request.
type verdict struct {
	res      *Result
	failover bool   // admitted by the failover policy, without a result
	err      error  // the cause of a rejection; for an admission on failover, the outage
	cause    *cause // err's row in the table of causes
}

// check asks the Verifier about the token raw and judges its answer: the
// result, or the outage, which the failover policy may admit. The
// verification is claimed last, once every other check passed.
func (m *middleware) check(r *http.Request, raw string) verdict {
	ctx := r.Context()
	res, err := m.Verifier.Verify(ctx, raw)
	if err != nil {
		c := causeOf(err)
		if c.reason == canceledReason && abandoned(ctx) == nil {
			// The Verifier's own deadline or cancellation, while the request
			// is alive: the API did not answer in time, an outage.
			err = fmt.Errorf("%w: the verifier's own context ended: %w", ErrServerUnreachable, err)
			c = causeOf(err)
		}
		if c.err != ErrServerUnreachable && c.err != ErrClientReportedFailover {
			return verdict{err: err, cause: c} // not an outage: no policy may admit it
		}
		if policy := m.Failover.Admit(r, err); policy != nil {
			if !errors.Is(policy, err) {
				policy = fmt.Errorf("%w: %w", policy, err)
			}
			return verdict{err: policy, cause: causeOf(policy)}
		}
		if cerr := m.claim(ctx, nil, raw); cerr != nil {
			return verdict{err: cerr, cause: causeOf(cerr)}
		}
		return verdict{failover: true, err: err, cause: c}
	}
	v := verdict{res: res}
	switch {
	case res == nil:
		v.err = fmt.Errorf("%w: the verifier returned no result", ErrUnexpectedResponse)
	case !res.VerificationPassed:
		v.err = ErrVerificationFailed
	case !(res.Score <= m.Threshold): // NaN fails too
		v.err = fmt.Errorf("%w: %.2f > %.2f", ErrScoreTooHigh, res.Score, m.Threshold)
	case m.origins != nil && !m.origins[normalizeOrigin(res.Origin)]:
		v.err = ErrOriginNotAllowed
	case m.MatchClientIP && !ipMatches(r, m.proxies, res.IPAddress):
		v.err = ErrIPMismatch
	default:
		v.err = m.claim(ctx, res, raw)
	}
	v.cause = causeOf(v.err)
	return v
}

// How long a claim is kept without a result expiry, and at least (the
// API's clock and ours may disagree a little).
const (
	claimLifetime    = 15 * time.Minute
	minClaimLifetime = time.Minute
)

// claim records the verification as used until its result expires, or says
// why it cannot be: ErrTokenReused or ErrReplayCheckUnavailable. The
// verification is res's. Without a result, or an ID in it, it is the one
// the token raw names, and for a token of another format a hash of raw: only
// then is raw parsed here, once.
func (m *middleware) claim(ctx context.Context, res *Result, raw string) error {
	if m.AllowReplay {
		return nil
	}
	now := time.Now()
	id, expires := "", now.Add(claimLifetime)
	if res != nil {
		id = strings.ToLower(res.VerificationID)
		if !res.ResultExpiresAt.IsZero() {
			expires = res.ResultExpiresAt
		}
	}
	if id == "" {
		if tok, err := ParseToken(raw); err == nil {
			id = tok.VerificationID
		} else {
			sum := sha256.Sum256([]byte(raw))
			id = "sha256:" + hex.EncodeToString(sum[:])
		}
	}
	expires = later(expires, now.Add(minClaimLifetime))
	switch ok, err := m.ReplayStore.Claim(ctx, id, expires); {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrReplayCheckUnavailable, err)
	case !ok:
		return ErrTokenReused
	}
	return nil
}

func later(a, b time.Time) time.Time {
	if a.Before(b) {
		return b
	}
	return a
}

// decide makes the Decision from what check found (or what extraction
// failed with). A request whose client went away is never admitted: its
// cause becomes request-canceled, except for an oversized body, which stays
// 413 (net/http may cancel the context of a request whose body it did not
// read to its end).
func (m *middleware) decide(r *http.Request, v verdict, latency time.Duration) Decision {
	if aerr := abandoned(r.Context()); aerr != nil && !v.cause.enforced {
		v = verdict{err: aerr, cause: causeOf(aerr)}
	}
	c := v.cause
	d := Decision{Admitted: v.err == nil || v.failover, Failover: v.failover, ReportOnly: m.ReportOnly,
		Reason: c.reason, Result: v.res, Score: -1, Latency: latency, cause: c}
	if v.res != nil {
		d.Score = v.res.Score
	}
	if !d.Admitted {
		d.Status = c.status
	}
	if v.err != nil {
		e := &causeError{err: v.err, cause: c}
		if c.err == ErrTokenMissing {
			e.hint = m.hint(r)
		}
		d.Err = e
	}
	return d
}

// hint tells the developer how to fix a missing token: where the middleware
// looked, and on a GET or HEAD how to protect only the form's POST. It is
// safe to show the client.
func (m *middleware) hint(r *http.Request) string {
	h := fmt.Sprintf("looked for the form field or JSON member %q and the %s header",
		m.TokenField, m.TokenHeader)
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		h += "; this is a " + r.Method + " request: to protect only the form's POST on this " +
			"route, set Options.Skip to trustcaptcha.SkipSafeMethods"
	}
	return h
}
