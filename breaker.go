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
	outcomeFailure                // the API answered 5xx, or could not be dialled
	outcomeBroken                 // no answer on a connection: it may be dead
)

const (
	// The first probe waits half a second, so verifications pass again
	// within about a second of a short outage's end.
	firstProbeWait = 500 * time.Millisecond
	// A probe that has not settled this long after its timeout counts as
	// lost, and no longer holds the breaker.
	probeGrace = 100 * time.Millisecond
)

// breaker is the Client's outage breaker (see WithBreaker). A probe lost
// past probeTimeout+probeGrace no longer holds it; a nil *breaker lets
// everything through.
type breaker struct {
	threshold    int
	maxWait      time.Duration
	probeTimeout time.Duration
	now          func() time.Time

	mu        sync.Mutex
	failures  int
	wait      time.Duration // the current wait; 0 while closed
	openUntil time.Time
	probe     uint64    // the probe under way, 0 for none
	probeEnd  time.Time // when that probe stops counting
	probes    uint64    // probes started, to tell a late one
}

// allow reports whether a request may go to the API; probe is non-zero for
// the probe of an open breaker, and goes back to record.
func (b *breaker) allow() (probe uint64, ok bool) {
	if b == nil {
		return 0, true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failures < b.threshold {
		return 0, true
	}
	now := b.now()
	if now.Before(b.openUntil) || b.probe != 0 && now.Before(b.probeEnd) {
		return 0, false
	}
	b.probes++
	b.probe, b.probeEnd = b.probes, now.Add(b.probeTimeout+probeGrace)
	return b.probe, true
}

// record notes the outcome of every request that allow let through.
func (b *breaker) record(probe uint64, o outcome) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	current := probe != 0 && probe == b.probe
	if current {
		b.probe = 0
	}
	switch o {
	case outcomeSuccess:
		b.failures, b.wait = 0, 0
	case outcomeFailure, outcomeBroken:
		b.failures++
		switch {
		case b.failures == b.threshold: // it opens
			b.wait = min(firstProbeWait, b.maxWait)
		case current && b.failures > b.threshold: // the probe failed
			b.wait = min(2*b.wait, b.maxWait)
		default: // closed, or a request from before it opened, or a lost probe
			return
		}
		b.openUntil = b.now().Add(b.wait)
	}
}

// isOpen reports whether the breaker is open.
func (b *breaker) isOpen() bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures >= b.threshold
}
