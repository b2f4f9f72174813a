// Package redisstore keeps the state a fleet of servers running
// trustcaptcha.RequireCaptcha must share, on Redis: which verifications were
// already used (a trustcaptcha.ReplayStore), and the counts of the failover
// budget (trustcaptcha.LimitFailoverShared) and of step-up
// (trustcaptcha.StepUp), a trustcaptcha.Counter.
//
//	rdb := redis.NewClient(&redis.Options{Addr: "redis:6379"})
//	store := redisstore.New(rdb)
//	captcha := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
//		Verifier:    client,
//		ReplayStore: store,
//		Failover:    trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 10, time.Minute, store),
//	})
//
// Every operation is one command on one key (SET NX with an absolute expiry;
// an INCR that sets its window's expiry, in one script), so it works on a
// single server, with Sentinel and on a Cluster alike. It is its own module,
// so the core package keeps no dependencies.
//
// Keys: <prefix>used:<verification ID> for a claim, kept until the result
// expires; <prefix>count:<key>:<window> for a count, kept for its window. A
// failover budget counts under the key failover:<n>/<per>, so budgets of
// another size or window never share a count, and equal budgets on one Redis
// do (that is how a fleet shares one); WithKeyPrefix keeps two sites on one
// Redis apart. An admitted verification costs one round trip, a failover
// admission one more. When Redis fails, the middleware rejects
// (replay-check-unavailable) within go-redis's own timeouts.
package redisstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// DefaultKeyPrefix starts every key the Store writes.
const DefaultKeyPrefix = "trustcaptcha:"

// Store is a trustcaptcha.ReplayStore and trustcaptcha.Counter on Redis. It
// is safe for concurrent use. Make one with New; the zero value is not usable.
type Store struct {
	rdb    redis.UniversalClient
	prefix string
}

// Option configures a Store.
type Option func(*Store)

// WithKeyPrefix sets the prefix of every key the Store writes (default
// DefaultKeyPrefix, "trustcaptcha:"). Sites that share a Redis between apps
// give each its own.
func WithKeyPrefix(p string) Option { return func(s *Store) { s.prefix = p } }

// New returns a Store on rdb: a *redis.Client, a *redis.ClusterClient, a
// failover (Sentinel) client, or any redis.UniversalClient. Its timeouts
// bound every call; a Redis that is down or slow is an error, never "not
// used".
func New(rdb redis.UniversalClient, opts ...Option) *Store {
	s := &Store{rdb: rdb, prefix: DefaultKeyPrefix}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Claim records id as used until expires, with SET NX and an absolute
// expiry: true the first time, false while the key exists. A time already
// past records nothing and is true. Any Redis failure is an error.
func (s *Store) Claim(ctx context.Context, id string, expires time.Time) (bool, error) {
	if !expires.After(time.Now()) {
		return true, nil
	}
	err := s.rdb.SetArgs(ctx, s.prefix+"used:"+id, 1, redis.SetArgs{Mode: "NX", ExpireAt: expires}).Err()
	switch {
	case errors.Is(err, redis.Nil):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("redisstore: claim: %w", err)
	}
	return true, nil
}

// incr adds one to KEYS[1] and, on the first increment, sets its expiry to
// ARGV[1] milliseconds: one round trip, one key.
var incr = redis.NewScript(`
local n = redis.call("INCR", KEYS[1])
if n == 1 then redis.call("PEXPIRE", KEYS[1], ARGV[1]) end
return n`)

// windowKey is the Redis key of key's count in the current window.
func (s *Store) windowKey(key string, window time.Duration) string {
	return fmt.Sprintf("%scount:%s:%d", s.prefix, key, time.Now().UnixNano()/int64(window))
}

// Increment adds one to key's count in the current window of length window
// (windows start at multiples of window since the Unix epoch, on this
// server's clock) and returns the new count. The window's key expires with
// the window.
func (s *Store) Increment(ctx context.Context, key string, window time.Duration) (int64, error) {
	if window <= 0 {
		return 0, fmt.Errorf("redisstore: Increment: window %v is not positive", window)
	}
	k := s.windowKey(key, window)
	n, err := incr.Run(ctx, s.rdb, []string{k}, max(window.Milliseconds(), 1)).Int64()
	if err != nil {
		return 0, fmt.Errorf("redisstore: increment: %w", err)
	}
	return n, nil
}

// Count returns key's count in the current window of length window, without
// adding one (a GET of the window's key): 0 for a key not counted in it.
// Any Redis failure is an error.
func (s *Store) Count(ctx context.Context, key string, window time.Duration) (int64, error) {
	if window <= 0 {
		return 0, fmt.Errorf("redisstore: Count: window %v is not positive", window)
	}
	n, err := s.rdb.Get(ctx, s.windowKey(key, window)).Int64()
	switch {
	case errors.Is(err, redis.Nil):
		return 0, nil
	case err != nil:
		return 0, fmt.Errorf("redisstore: count: %w", err)
	}
	return n, nil
}
