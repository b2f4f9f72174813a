package trustcaptcha

import (
	"context"
	"time"
)

// Decision is what the middleware decided for one request. OnDecision
// receives it, and the next handler (or, for a rejection, the ErrorHandler)
// reads it with DecisionFromContext. The zero value admits nothing and
// names no reason.
type Decision struct {
	Admitted   bool          // passed, or admitted by the failover policy; in ReportOnly mode, what would have been decided
	Failover   bool          // admitted by the failover policy, without a verified result
	ReportOnly bool          // the decision was not enforced
	Reason     string        // the reason code of Err (see Reason): "passed", or the cause, also on failover
	Err        error         // the cause; nil when the result passed
	Result     *Result       // the API's result; nil when there was none
	Score      float64       // Result.Score, or -1 without a result
	Status     int           // the status of a rejection (400 or 413); 0 when admitted
	Latency    time.Duration // the time spent reading the token and verifying it

	cause *cause // Err's row in the table of causes, looked up once
	hint  string // for a missing token: where the middleware looked (see middleware.hint)
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
