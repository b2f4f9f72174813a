package trustcaptcha

import (
	"context"
	"fmt"
	"net/http"
	"time"
)

// Decision is what the middleware decided for one request. The next handler
// reads it with DecisionFromContext; OnDecision receives it.
type Decision struct {
	Admitted   bool          // passed, or admitted by the failover policy (in ReportOnly mode: would have been)
	Failover   bool          // admitted by the failover policy, without a verified result
	ReportOnly bool          // the decision was not enforced
	Reason     string        // the reason code of Err (see Reason): "passed", or the cause, also on failover
	Err        error         // the cause; nil when the result passed
	Result     *Result       // the API's result; nil when there was none
	Score      float64       // Result.Score, or -1 without a result
	Status     int           // the status of a rejection (400 or 413); 0 when admitted
	Latency    time.Duration // the time spent reading the token and verifying it
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

// ResultFromContext returns the result of a request that passed every check:
// (nil, false) for one admitted by failover, one that would have been
// rejected in ReportOnly mode, and outside the middleware.
func ResultFromContext(ctx context.Context) (*Result, bool) {
	d, ok := ctx.Value(decisionKey{}).(*Decision)
	if !ok || !d.Admitted || d.Failover || d.Result == nil {
		return nil, false
	}
	return d.Result, true
}

// AdmittedByFailover reports whether the failover policy let the request
// through without a verified result: the handler may add friction (a second
// factor, moderation, a lower limit).
func AdmittedByFailover(ctx context.Context) bool {
	d, ok := ctx.Value(decisionKey{}).(*Decision)
	return ok && d.Admitted && d.Failover
}

// decision builds the Decision from what check found; a request whose client
// went away is never admitted. d.Err carries the cause's row (rejection).
func (m *middleware) decision(r *http.Request, res *Result, failover bool, err error, latency time.Duration) Decision {
	c := causeOf(err)
	// An oversized body stays 413: net/http may cancel the context of a
	// request whose body was not read to its end.
	if ctxErr := r.Context().Err(); ctxErr != nil && c.reason != canceledReason && c.err != ErrBodyTooLarge {
		err, failover = fmt.Errorf("trustcaptcha: request abandoned: %w", ctxErr), false
		c = causeOf(err)
	}
	if rj, ok := err.(*rejection); ok { // check looked its cause up
		err = rj.err
	}
	d := Decision{Admitted: err == nil || failover, Failover: failover, ReportOnly: m.ReportOnly,
		Reason: c.reason, Result: res, Score: -1, Latency: latency}
	if err != nil {
		d.Err = &rejection{err: err, cause: c, hint: m.hint(r, c)}
	}
	if res != nil {
		d.Score = res.Score
	}
	if !d.Admitted {
		d.Status = c.status
	}
	return d
}

// rejection is a Decision's error: the cause, its row in the table of causes
// and a hint for the developer; errors.Is and errors.As see through it.
type rejection struct {
	err   error
	cause *cause
	hint  string // safe for the client: names what the middleware looked for
}

func (e *rejection) Error() string {
	if e.hint == "" {
		return e.err.Error()
	}
	return e.err.Error() + " (" + e.hint + ")"
}

func (e *rejection) Unwrap() error { return e.err }

// hint tells the developer how to fix a missing token: where the middleware
// looked, and on a GET or HEAD how to protect only the form's POST.
func (m *middleware) hint(r *http.Request, c *cause) string {
	if c.err != ErrTokenMissing {
		return ""
	}
	h := fmt.Sprintf("looked for the form field or JSON member %q and the %s header", m.TokenField, m.TokenHeader)
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		h += "; this is a " + r.Method + " request: to protect only the form's POST on this route, " +
			"set Options.Skip to trustcaptcha.SkipSafeMethods"
	}
	return h
}
