package trustcaptcha

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// FailoverPolicy decides whether a request is admitted when the CAPTCHA cannot
// be verified because of an outage. The middleware consults it for exactly two
// causes, and never for any other error:
//
//   - err wraps ErrServerUnreachable: this server got no answer from the API
//     (network error, timeout, HTTP 5xx, or the Client's breaker is open). A
//     trustworthy outage signal.
//   - err wraps ErrClientReportedFailover: the browser says it could not reach
//     the API and the API saw no outage (HTTP 412). Anyone can forge that.
//
// A bad API key, an unexpected API answer, an exhausted retrieval limit and
// every client mistake are always rejected, whatever the policy says.
//
// A nil FailoverPolicy in Options is FailClosed. Implementations must be safe
// for concurrent use.
type FailoverPolicy interface {
	Admit(r *http.Request, err error) bool
}

// FailoverFunc adapts a function to FailoverPolicy, for custom decisions (say,
// admit logged-in users only). It is called only with the two causes listed
// on FailoverPolicy.
type FailoverFunc func(r *http.Request, err error) bool

// Admit calls f(r, err).
func (f FailoverFunc) Admit(r *http.Request, err error) bool { return f(r, err) }

type failClosed struct{}

func (failClosed) Admit(*http.Request, error) bool { return false }
func (failClosed) String() string                  { return "FailClosed" }

type failOpen struct{ clientFailover bool }

func (p failOpen) Admit(_ *http.Request, err error) bool {
	if errors.Is(err, ErrClientReportedFailover) {
		return p.clientFailover
	}
	return errors.Is(err, ErrServerUnreachable)
}

func (p failOpen) String() string {
	if p.clientFailover {
		return "FailOpenTrustingClientFailover"
	}
	return "FailOpen"
}

var (
	// FailClosed rejects every request that cannot be verified. It is the
	// default (a nil Options.Failover): an outage of the API blocks the form.
	FailClosed FailoverPolicy = failClosed{}

	// FailOpen admits requests while this server cannot reach the API, marked
	// as admitted on failover (see AdmittedByFailover) so the handler can add
	// friction. It does not admit tokens whose client-reported failover the
	// API did not confirm: those are forgeable.
	FailOpen FailoverPolicy = failOpen{}

	// FailOpenTrustingClientFailover admits what FailOpen admits and also
	// tokens whose client-reported failover the API did not confirm (412).
	// Anyone can make such a token, so this admits any bot that tries: use it
	// only where availability matters more than protection, ideally bounded
	// with LimitFailover.
	FailOpenTrustingClientFailover FailoverPolicy = failOpen{clientFailover: true}
)

// LimitFailover bounds p: of the requests p admits, at most n are admitted in
// each window of length per (fixed windows, starting at multiples of per
// since the Unix epoch); the rest are rejected with an error that wraps
// ErrFailoverLimitReached and the outage cause. So an attacker who knocks the
// API out, or fills the Client's in-flight bound, cannot flood the form
// through the open door. The budget is this process's; LimitFailoverShared
// shares one across a fleet. A nil p is FailClosed. n and per must be
// positive, or LimitFailover panics.
func LimitFailover(p FailoverPolicy, n int, per time.Duration) FailoverPolicy {
	return newLimitedFailover("LimitFailover", p, n, per, NewMemoryStore())
}

// LimitFailoverShared is LimitFailover whose budget is counted by c, so every
// process using the same Counter (such as a redisstore.Store on one Redis)
// shares one budget of n admissions per window: 4 instances with a budget of
// 10 a minute admit 10 in a minute, not 40. The budget is counted under the
// key "failover:<n>/<per>" (such as "failover:10/1m0s"): budgets of the same
// n and per on one Counter share one count (that is how a fleet shares it),
// budgets of another size or window never touch it. To keep two equal
// budgets apart, give them two Counters (two MemoryStores, or redisstore
// stores with different WithKeyPrefix). When c fails, nothing is admitted (the rejection wraps
// ErrFailoverLimitReached). n and per must be positive and c not nil, or
// LimitFailoverShared panics.
func LimitFailoverShared(p FailoverPolicy, n int, per time.Duration, c Counter) FailoverPolicy {
	if c == nil {
		panic("trustcaptcha: LimitFailoverShared: nil Counter")
	}
	return newLimitedFailover("LimitFailoverShared", p, n, per, c)
}

func newLimitedFailover(name string, p FailoverPolicy, n int, per time.Duration, c Counter) *limitedFailover {
	if p == nil {
		p = FailClosed
	}
	if n <= 0 || per <= 0 {
		panic(fmt.Sprintf("trustcaptcha: %s(%d, %v): n and per must be positive", name, n, per))
	}
	return &limitedFailover{policy: p, n: int64(n), per: per, counter: c, key: fmt.Sprintf("failover:%d/%v", n, per)}
}

type limitedFailover struct {
	policy  FailoverPolicy
	n       int64
	per     time.Duration
	counter Counter
	key     string // the Counter key: "failover:<n>/<per>"
}

// Admit reports whether the wrapped policy admits the request and the
// budget of the current window has room.
func (l *limitedFailover) Admit(r *http.Request, err error) bool {
	ok, _ := l.admit(r, err)
	return ok
}

// admit is Admit with the cause of a rejection: the wrapped policy's, or a
// spent budget. It asks the wrapped policy once.
func (l *limitedFailover) admit(r *http.Request, err error) (bool, error) {
	if ok, cause := admit(l.policy, r, err); !ok {
		return false, cause
	}
	count, cerr := l.counter.Increment(r.Context(), l.key, l.per)
	switch {
	case cerr != nil:
		return false, fmt.Errorf("%w (its counter failed: %v): %w", ErrFailoverLimitReached, cerr, err)
	case count > l.n:
		return false, fmt.Errorf("%w: %w", ErrFailoverLimitReached, err)
	}
	return true, nil
}

// budgeted is a policy that names the cause of its own rejections.
type budgeted interface {
	admit(r *http.Request, err error) (bool, error)
}

// admit asks p whether to admit a request that could not be verified
// because of err, asking it once; a rejection comes with its cause.
func admit(p FailoverPolicy, r *http.Request, err error) (bool, error) {
	if b, ok := p.(budgeted); ok {
		return b.admit(r, err)
	}
	return p.Admit(r, err), err
}
