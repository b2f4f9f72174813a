package trustcaptcha

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// FailoverPolicy decides whether a request that could not be verified is
// admitted. It is asked only when err wraps ErrServerUnreachable (no answer
// from the API) or ErrClientReportedFailover (the browser says so, the API
// disagrees: forgeable); every other cause is rejected whatever it says.
// Admit returns nil to admit, or the cause of the rejection (one that does
// not wrap err is joined with it). It must be safe for concurrent use.
type FailoverPolicy interface {
	Admit(r *http.Request, err error) error
}

// FailoverFunc adapts a function to FailoverPolicy, for a decision of your
// own (hand the rest to a LimitFailover by returning its Admit).
type FailoverFunc func(r *http.Request, err error) error

// Admit calls f(r, err).
func (f FailoverFunc) Admit(r *http.Request, err error) error { return f(r, err) }

type failClosed struct{}

func (failClosed) Admit(_ *http.Request, err error) error { return err }
func (failClosed) String() string                         { return "FailClosed" }

type failOpen struct{ clientFailover bool }

func (p failOpen) Admit(_ *http.Request, err error) error {
	if errors.Is(err, ErrServerUnreachable) ||
		p.clientFailover && errors.Is(err, ErrClientReportedFailover) {
		return nil
	}
	return err
}

func (p failOpen) String() string {
	if p.clientFailover {
		return "FailOpenTrustingClientFailover"
	}
	return "FailOpen"
}

var (
	// FailClosed, the default, rejects every request that cannot be verified.
	FailClosed FailoverPolicy = failClosed{}

	// FailOpen admits requests while this server cannot reach the API,
	// marked (AdmittedByFailover), but not forgeable client-reported
	// failovers the API did not confirm.
	FailOpen FailoverPolicy = failOpen{}

	// FailOpenTrustingClientFailover also admits the client-reported
	// failovers the API did not confirm (412), which anyone can forge: bound
	// it with LimitFailover.
	FailOpenTrustingClientFailover FailoverPolicy = failOpen{clientFailover: true}
)

// Counter counts events in fixed time windows, for a failover budget shared
// by several processes (LimitFailoverShared) and for the counts of a StepUp.
// It is safe for concurrent use. Windows start at multiples of their length
// since the Unix epoch. MemoryStore and redisstore.Store implement it.
type Counter interface {
	// Increment adds one to key's count in the current window of length
	// window and returns the new count. Counting and reading are one atomic
	// step: of n concurrent calls, each gets a different count.
	Increment(ctx context.Context, key string, window time.Duration) (int64, error)

	// Count returns key's count in the current window of length window,
	// without adding one: 0 for a key not counted in it. A window that is
	// not positive is an error.
	Count(ctx context.Context, key string, window time.Duration) (int64, error)
}

// LimitFailover admits at most n of the requests p admits in each fixed
// window of length per, in this process, so an attacker who knocks the API
// out cannot flood the form; the rest get ErrFailoverLimitReached. A nil p
// is FailClosed; n and per must be positive, or it panics.
func LimitFailover(p FailoverPolicy, n int, per time.Duration) FailoverPolicy {
	return newLimitedFailover("LimitFailover", p, n, per, NewMemoryStore())
}

// LimitFailoverShared is LimitFailover counted by c under the key
// "failover:<n>/<per>", so a fleet on one Counter (a redisstore.Store) shares
// one budget (another Counter, or redisstore.WithKeyPrefix, keeps one apart);
// a failing c admits nothing. n and per must be positive, c not nil.
func LimitFailoverShared(p FailoverPolicy, n int, per time.Duration, c Counter) FailoverPolicy {
	if c == nil {
		panic("trustcaptcha: LimitFailoverShared: nil Counter")
	}
	return newLimitedFailover("LimitFailoverShared", p, n, per, c)
}

func newLimitedFailover(name string, p FailoverPolicy, n int, per time.Duration,
	c Counter) *limitedFailover {
	if n <= 0 || per <= 0 {
		panic(fmt.Sprintf("trustcaptcha: %s(%d, %v): n and per must be positive", name, n, per))
	}
	if p == nil {
		p = FailClosed
	}
	return &limitedFailover{policy: p, n: int64(n), per: per, counter: c,
		key: fmt.Sprintf("failover:%d/%v", n, per)}
}

type limitedFailover struct {
	policy  FailoverPolicy
	n       int64
	per     time.Duration
	counter Counter
	key     string
}

// Admit admits what the wrapped policy admits while the window's budget lasts.
func (l *limitedFailover) Admit(r *http.Request, err error) error {
	if cause := l.policy.Admit(r, err); cause != nil {
		return cause
	}
	count, cerr := l.counter.Increment(r.Context(), l.key, l.per)
	switch {
	case cerr != nil:
		return fmt.Errorf("%w (its counter failed: %v): %w", ErrFailoverLimitReached, cerr, err)
	case count > l.n:
		return fmt.Errorf("%w: %w", ErrFailoverLimitReached, err)
	}
	return nil
}
