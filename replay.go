package trustcaptcha

import (
	"container/heap"
	"context"
	"fmt"
	"sync"
	"time"
)

// ReplayStore records the verifications already used (see
// Options.ReplayStore). It is safe for concurrent use, and of two concurrent
// claims of one id exactly one wins.
type ReplayStore interface {
	// Claim records id as used until expires: false, nil when it already is
	// (and not expired); an error when it cannot tell.
	Claim(ctx context.Context, id string, expires time.Time) (bool, error)
}

// A MemoryStore's bounds. The claims cover more than 1,000 verifications a
// second over a 15-minute result lifetime; the windows, one per client for a
// million clients in one window.
const (
	defaultMemoryStoreClaims  = 1 << 20 // unexpired claims
	defaultMemoryStoreWindows = 1 << 20 // live counting windows, one per key and window length
)

// MemoryStore is a ReplayStore and a Counter in this process's memory, safe
// for concurrent use. Its zero value is not usable; call NewMemoryStore.
//
// It frees claims and counting windows as they expire, without walking the
// live ones, so a call costs the same with ten entries or a million.
//
// It holds at most 1,048,576 unexpired claims and 1,048,576 live counting
// windows, each a couple of hundred bytes of heap with its id or key
// (BENCHMARKS.md has the measurements). At either bound it returns an error
// rather than forget an entry: a claim is then refused
// (replay-check-unavailable), and a budget counted here admits nothing until
// windows end.
type MemoryStore struct {
	now        func() time.Time
	maxClaims  int
	maxWindows int

	mu      sync.Mutex
	claims  map[string]time.Time // id → expiry
	expiry  byEnd[claim]         // the same claims, soonest expiry first
	windows map[windowKey]window // Counter state
	ends    byEnd[windowEnd]     // the same windows, soonest end first
}

type windowKey struct { // two window lengths on one key never meet
	key    string
	length time.Duration
}

// window is the count of one key in one window; index is the window's
// start since the Unix epoch divided by its length.
type window struct{ index, count int64 }

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return newMemoryStore(time.Now, defaultMemoryStoreClaims, defaultMemoryStoreWindows)
}

func newMemoryStore(now func() time.Time, maxClaims, maxWindows int) *MemoryStore {
	return &MemoryStore{now: now, maxClaims: maxClaims, maxWindows: maxWindows,
		claims: map[string]time.Time{}, windows: map[windowKey]window{}}
}

// Claim records id as used until expires: true the first time, false while
// the claim has not expired, an error at the bound.
func (s *MemoryStore) Claim(_ context.Context, id string, expires time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	s.sweep(now)
	if _, used := s.claims[id]; used { // unexpired: sweep freed the rest
		return false, nil
	}
	if len(s.claims) >= s.maxClaims {
		return false, fmt.Errorf("trustcaptcha: MemoryStore holds %d unexpired claims, its bound",
			len(s.claims))
	}
	s.claims[id] = expires
	heap.Push(&s.expiry, claim{id, expires})
	return true, nil
}

type claim struct {
	id      string
	expires time.Time
}

// sweep frees the claims that expired by now.
func (s *MemoryStore) sweep(now time.Time) {
	for len(s.expiry) > 0 && !s.expiry[0].expires.After(now) {
		c := heap.Pop(&s.expiry).(claim)
		if exp, ok := s.claims[c.id]; ok && exp.Equal(c.expires) {
			delete(s.claims, c.id)
		}
	}
}

// Increment adds one to the count of key and length in the current window
// and returns it. length must be positive. When the store holds as many
// live windows as it may, a key new to its window is an error.
func (s *MemoryStore) Increment(_ context.Context, key string, length time.Duration) (
	int64, error) {
	if length <= 0 {
		return 0, fmt.Errorf("trustcaptcha: MemoryStore.Increment: window %v is not positive", length)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now().UnixNano()
	s.sweepWindows(now)
	k := windowKey{key, length}
	index := now / int64(length)
	w, ok := s.windows[k]
	if !ok || w.index != index { // sweepWindows freed it if it ended
		if len(s.windows) >= s.maxWindows {
			return 0, fmt.Errorf("trustcaptcha: MemoryStore holds %d live counting windows, its bound",
				len(s.windows))
		}
		w = window{index: index}
		heap.Push(&s.ends, windowEnd{k, (index + 1) * int64(length)})
	}
	w.count++
	s.windows[k] = w
	return w.count, nil
}

// Count returns the count of key and length in the current window, without
// adding one: 0 for a key not counted in it. length must be positive. It
// costs the same however many windows are live.
func (s *MemoryStore) Count(_ context.Context, key string, length time.Duration) (int64, error) {
	if length <= 0 {
		return 0, fmt.Errorf("trustcaptcha: MemoryStore.Count: window %v is not positive", length)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.windows[windowKey{key, length}]
	if !ok || w.index != s.now().UnixNano()/int64(length) { // an ended window counts nothing
		return 0, nil
	}
	return w.count, nil
}

// sweepWindows frees the windows that ended by now (Unix nanoseconds).
func (s *MemoryStore) sweepWindows(now int64) {
	for len(s.ends) > 0 && s.ends[0].end <= now {
		e := heap.Pop(&s.ends).(windowEnd)
		if w, ok := s.windows[e.key]; ok && (w.index+1)*int64(e.key.length) == e.end {
			delete(s.windows, e.key)
		}
	}
}

// windowEnd is when a window ends, in Unix nanoseconds.
type windowEnd struct {
	key windowKey
	end int64
}

func (e windowEnd) ends() time.Time { return time.Unix(0, e.end) }

func (c claim) ends() time.Time { return c.expires }

// byEnd is a container/heap of claims or windows, the one that ends first
// on top, so the MemoryStore frees what ended without walking what lives.
type byEnd[T interface{ ends() time.Time }] []T

func (h byEnd[T]) Len() int           { return len(h) }
func (h byEnd[T]) Less(i, j int) bool { return h[i].ends().Before(h[j].ends()) }
func (h byEnd[T]) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *byEnd[T]) Push(x any)        { *h = append(*h, x.(T)) }
func (h *byEnd[T]) Pop() any {
	old := *h
	x := old[len(old)-1]
	var zero T
	old[len(old)-1] = zero // let its key be collected
	*h = old[:len(old)-1]
	return x
}

// defaultReplayStore is shared by every RequireCaptcha without a ReplayStore,
// so two middlewares in one process never admit one token twice.
var defaultReplayStore = sync.OnceValue(NewMemoryStore)
