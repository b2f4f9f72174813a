package trustcaptcha

import (
	"sync"
	"time"
)

// outcome is what one API exchange says about the API's health.
type outcome int

const (
	outcomeNeutral outcome = iota // says nothing (the caller gave up)
	outcomeSuccess                // the API answered
	outcomeFailure                // no answer, a timeout or a 5xx
)

// breaker is the Client's outage breaker: after threshold consecutive
// failures it opens for cooldown, then lets one probe through at a time until
// an answer closes it. A nil *breaker lets everything through.
type breaker struct {
	threshold int
	cooldown  time.Duration
	now       func() time.Time

	mu        sync.Mutex
	failures  int
	openUntil time.Time
	probing   bool
}

// allow reports whether a request may go to the API, and whether it is the
// probe of a half-open breaker.
func (b *breaker) allow() (probe, ok bool) {
	if b == nil {
		return false, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return false, true
	}
	if b.now().Before(b.openUntil) || b.probing {
		return false, false
	}
	b.probing = true
	return true, true
}

// record notes the outcome of a request that allow let through.
func (b *breaker) record(probe bool, o outcome) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if probe {
		b.probing = false
	}
	switch o {
	case outcomeSuccess:
		b.failures = 0
	case outcomeFailure:
		b.failures++
		if b.failures >= b.threshold {
			b.openUntil = b.now().Add(b.cooldown)
		}
	}
}
