package trustcaptcha

// Hooks into the package for its tests: clocks, small bounds.

import (
	"net/http"
	"net/netip"
	"time"
)

// Seams for the tests of package trustcaptcha_test: time is driven by a fake
// clock instead of sleeps.

// WithClock makes the Client's outage breaker read the time from now.
func WithClock(now func() time.Time) ClientOption {
	return func(c *clientConfig) error {
		c.now = now
		return nil
	}
}

// NewMemoryStoreWithClock is NewMemoryStore reading the time from now and
// holding at most maxClaims unexpired claims.
func NewMemoryStoreWithClock(now func() time.Time, maxClaims int) *MemoryStore {
	return newMemoryStore(now, maxClaims, defaultMemoryStoreWindows)
}

// NewMemoryStoreWithBounds is NewMemoryStore reading the time from now, with
// the bounds given.
func NewMemoryStoreWithBounds(now func() time.Time, maxClaims, maxWindows int) *MemoryStore {
	return newMemoryStore(now, maxClaims, maxWindows)
}

// RequireCaptchaWithClock is RequireCaptcha whose operator log reads the
// time from now.
func RequireCaptchaWithClock(opts Options, now func() time.Time) func(http.Handler) http.Handler {
	m := newMiddleware(opts)
	m.opLog.now = now
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { m.serve(next, w, r) })
	}
}

// ResetMinimalDataWarning lets the next minimal data mode result warn again,
// as in a new process.
func ResetMinimalDataWarning() { minimalDataWarned.Store(false) }

// ClientIP is the client IP that MatchClientIP compares, behind proxies
// (Options.TrustedProxies).
func ClientIP(r *http.Request, proxies []string) (netip.Addr, bool) {
	return clientIP(r, parseProxies("Options.TrustedProxies", proxies))
}

// The defaults the tests compare against.
const (
	DefaultMemoryStoreWindows = defaultMemoryStoreWindows
	DefaultTimeout            = defaultTimeout
	MaxTokenLength            = maxTokenLength
)
