package trustcaptcha

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
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
// each interval of length per (a fixed window that starts with the first
// admission); the rest are rejected with an error that wraps
// ErrFailoverLimitReached and the outage cause. So an attacker who knocks the
// API out cannot flood the form through the open door. n must be positive and
// per positive, or LimitFailover panics.
func LimitFailover(p FailoverPolicy, n int, per time.Duration) FailoverPolicy {
	if p == nil {
		p = FailClosed
	}
	if n <= 0 || per <= 0 {
		panic(fmt.Sprintf("trustcaptcha: LimitFailover(%d, %v): n and per must be positive", n, per))
	}
	return &limitedFailover{policy: p, n: n, per: per, now: time.Now}
}

type limitedFailover struct {
	policy FailoverPolicy
	n      int
	per    time.Duration
	now    func() time.Time

	mu          sync.Mutex
	windowStart time.Time
	used        int
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
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if l.windowStart.IsZero() || now.Sub(l.windowStart) >= l.per {
		l.windowStart, l.used = now, 0
	}
	if l.used >= l.n {
		return false, fmt.Errorf("%w: %w", ErrFailoverLimitReached, err)
	}
	l.used++
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
