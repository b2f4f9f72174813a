package trustcaptcha_test

// Failover policies (failover.go): what each admits, budgets in one process
// and shared by a fleet, and the causes they return.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// admits counts how many of n outage requests p admits.
func admits(p trustcaptcha.FailoverPolicy, n int) int {
	err := fmt.Errorf("%w: timeout", trustcaptcha.ErrServerUnreachable)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	got := 0
	for range n {
		if p.Admit(r, err) == nil {
			got++
		}
	}
	return got
}

// TestBudgetsOnOneCounter: budgets of another size or window on one Counter
// never reset or share each other's counts; budgets of the same size and
// window share one (that is how a fleet shares it).
func TestBudgetsOnOneCounter(t *testing.T) {
	t.Parallel()
	store := trustcaptcha.NewMemoryStore()
	perMinute := trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 2, time.Minute, store)
	perHour := trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 2, time.Hour, store)
	three := trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 3, time.Minute, store)
	got := map[string]int{}
	for range 25 { // alternating, as requests of two routes arrive
		got["minute"] += admits(perMinute, 1)
		got["hour"] += admits(perHour, 1)
		got["three"] += admits(three, 1)
	}
	assert.Equal(t, map[string]int{"minute": 2, "hour": 2, "three": 3}, got)

	same := trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 2, time.Minute, store)
	assert.Equal(t, 0, admits(same, 5), "a budget of the same size and window shares the spent count")
	apart := trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 2, time.Minute, trustcaptcha.NewMemoryStore())
	assert.Equal(t, 2, admits(apart, 5), "another Counter keeps its own")
}

func TestLimitFailoverBoundsAdmissions(t *testing.T) {
	t.Parallel()
	v := &stub{err: fmt.Errorf("%w: timeout", trustcaptcha.ErrServerUnreachable)}
	var reasons []string
	var mu sync.Mutex
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: v, Logger: quietLogger(),
		Failover: trustcaptcha.LimitFailover(trustcaptcha.FailOpen, 3, time.Hour),
		OnDecision: func(_ *http.Request, d trustcaptcha.Decision) {
			mu.Lock()
			defer mu.Unlock()
			reasons = append(reasons, fmt.Sprintf("%v/%s", d.Admitted, d.Reason))
		},
	})(probe(&seen{}))
	codes := []int{}
	for range 5 {
		rec := send(h, tokenFor(freshID()))
		codes = append(codes, rec.Code)
	}
	assert.Equal(t, []int{204, 204, 204, 400, 400}, codes)
	assert.Equal(t, []string{"true/server-unreachable", "true/server-unreachable", "true/server-unreachable",
		"false/failover-limit-reached", "false/failover-limit-reached"}, reasons)

	// The window refills.
	clock := newFakeClock()
	p := trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 1, time.Minute,
		trustcaptcha.NewMemoryStoreWithClock(clock.Now, 10))
	err := fmt.Errorf("%w", trustcaptcha.ErrServerUnreachable)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	assert.NoError(t, p.Admit(r, err))
	assert.ErrorIs(t, p.Admit(r, err), trustcaptcha.ErrFailoverLimitReached)
	clock.Advance(time.Minute)
	assert.NoError(t, p.Admit(r, err), "a new window, a new budget")
	spent := p.Admit(r, err)
	assert.ErrorIs(t, spent, trustcaptcha.ErrFailoverLimitReached)
	assert.ErrorIs(t, spent, trustcaptcha.ErrServerUnreachable, "the outage cause stays")
	assert.Equal(
		t, err,
		trustcaptcha.LimitFailover(trustcaptcha.FailClosed, 5, time.Second).Admit(r, err),
		"a limit never admits what the policy rejects, and passes its cause on",
	)
	assert.Panics(t, func() { trustcaptcha.LimitFailover(trustcaptcha.FailOpen, 0, time.Second) })
	assert.Panics(t, func() { trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 1, time.Second, nil) })
}

func TestFullStackFailover(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	client := api.Client(trustcaptcha.WithBreaker(0, 0))
	var s seen
	closed := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client})(probe(&s))
	open := trustcaptcha.RequireCaptcha(
		trustcaptcha.Options{Verifier: client, Failover: trustcaptcha.FailOpen},
	)(
		probe(&s),
	)
	send := func(h http.Handler, tok string) int {
		r := httptest.NewRequest(http.MethodPost, "/contact", nil)
		r.Header.Set("X-TC-Verification-Token", tok)
		rec := httptest.NewRecorder()
		s = seen{}
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	api.Down(http.StatusServiceUnavailable)
	assert.Equal(t, 400, send(closed, api.Human()))
	assert.Equal(t, 204, send(open, api.Human()))
	assert.True(t, s.failover)
	api.Down(0)
	assert.Equal(
		t,
		400,
		send(open, trustcaptchatest.ClientFailoverToken()),
		"FailOpen alone never admits a forgeable token",
	)
	assert.Equal(t, 204, send(open, api.Human()))
	assert.False(t, s.failover)
	assert.True(t, s.hasResult)
}

// A blackholed API through the whole stack: each request waits for the
// client's timeout until the breaker opens, then the failover policy decides
// at once; the handler is told it admitted on failover throughout.
func TestOutageThroughTheMiddleware(t *testing.T) {
	t.Parallel()
	c := newClient(
		t,
		blackhole(t),
		trustcaptcha.WithTimeout(100*time.Millisecond),
		trustcaptcha.WithBreaker(3, time.Hour),
	)
	var decisions []trustcaptcha.Decision
	var s seen
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: c, Failover: trustcaptcha.FailOpen,
		OnDecision: func(_ *http.Request, d trustcaptcha.Decision) { decisions = append(decisions, d) }})(probe(&s))
	for range 6 {
		s = seen{}
		rec := send(h, tokenFor(freshID()))
		require.Equal(t, 204, rec.Code)
		assert.True(t, s.failover)
	}
	require.Len(t, decisions, 6)
	for i, d := range decisions {
		assert.Equal(t, "server-unreachable", d.Reason)
		assert.True(t, d.Failover)
		assert.Equal(t, i >= 3, errors.Is(d.Err, trustcaptcha.ErrBreakerOpen), "request %d", i)
		if i < 3 {
			assert.ErrorIs(t, d.Err, context.DeadlineExceeded, "request %d waited for the timeout", i)
		}
	}
}

// LimitFailover asks the policy it wraps once per request, also when the
// budget is spent; a budget spent on forged client-failover tokens is named
// failover-limit-reached like any other.
func TestLimitFailoverAsksItsPolicyOnce(t *testing.T) {
	t.Parallel()
	var asked atomic.Int64
	policy := trustcaptcha.FailoverFunc(func(*http.Request, error) error { asked.Add(1); return nil })
	var reasons []string
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: &stub{err: fmt.Errorf("%w (HTTP 412)", trustcaptcha.ErrClientReportedFailover)},
		Failover: trustcaptcha.LimitFailover(policy, 1, time.Hour), Logger: quietLogger(),
		OnDecision: func(_ *http.Request, d trustcaptcha.Decision) { reasons = append(reasons, d.Reason) },
	})(probe(&seen{}))
	for range 3 {
		send(h, tokenFor(freshID()))
	}
	assert.Equal(t, int64(3), asked.Load(), "one question per request")
	assert.Equal(t, []string{"client-failover-unconfirmed", "failover-limit-reached",
		"failover-limit-reached"}, reasons)
}

// A policy's cause reaches the Decision: a FailoverFunc that hands the rest
// to a LimitFailover keeps the budget's cause, and a cause of its own that
// does not wrap the outage is joined with it.
func TestFailoverFuncCauses(t *testing.T) {
	t.Parallel()
	limit := trustcaptcha.LimitFailover(trustcaptcha.FailOpen, 1, time.Hour)
	membersOnly := errors.New("members only during outages")
	cases := []struct {
		name    string
		policy  func(r *http.Request, err error) error
		reasons []string
		wantErr error
	}{
		{"the budget's cause through a FailoverFunc", func(r *http.Request, err error) error {
			if r.Header.Get("X-Member") == "yes" {
				return nil
			}
			return limit.Admit(r, err)
		}, []string{"server-unreachable", "failover-limit-reached"}, trustcaptcha.ErrFailoverLimitReached},
		{"a cause of its own, joined with the outage", func(*http.Request, error) error { return membersOnly },
			[]string{"server-unreachable", "server-unreachable"}, membersOnly},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got []trustcaptcha.Decision
			h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
				Verifier: &stub{err: fmt.Errorf("%w: timeout", trustcaptcha.ErrServerUnreachable)},
				Failover: trustcaptcha.FailoverFunc(tc.policy), Logger: quietLogger(),
				OnDecision: func(_ *http.Request, d trustcaptcha.Decision) { got = append(got, d) },
			})(probe(&seen{}))
			send(h, tokenFor(freshID()))
			send(h, tokenFor(freshID()))
			require.Len(t, got, 2)
			assert.Equal(t, tc.reasons, []string{got[0].Reason, got[1].Reason})
			last := got[1]
			assert.False(t, last.Admitted)
			assert.ErrorIs(t, last.Err, tc.wantErr)
			assert.ErrorIs(t, last.Err, trustcaptcha.ErrServerUnreachable)
		})
	}
}

// A Verifier whose own context ends (its own deadline, its own cancel)
// while the request is alive met an outage: the policy decides it and
// ReportOnly admits it. Only the request's own context is request-canceled.
func TestAVerifiersOwnTimeoutIsAnOutage(t *testing.T) {
	t.Parallel()
	ownDeadline := trustcaptcha.VerifierFunc(func(ctx context.Context, _ string) (*trustcaptcha.Result, error) {
		ctx, cancel := context.WithTimeout(ctx, time.Millisecond)
		defer cancel()
		<-ctx.Done()
		return nil, fmt.Errorf("my backend: %w", ctx.Err())
	})
	ownCancel := trustcaptcha.VerifierFunc(func(ctx context.Context, _ string) (*trustcaptcha.Result, error) {
		ctx, cancel := context.WithCancel(ctx)
		cancel()
		return nil, ctx.Err()
	})
	cases := []struct {
		name       string
		failover   trustcaptcha.FailoverPolicy
		reportOnly bool
		code       int
		failedOver bool
	}{
		{"FailClosed", trustcaptcha.FailClosed, false, http.StatusBadRequest, false},
		{"FailOpen", trustcaptcha.FailOpen, false, http.StatusNoContent, true},
		{"ReportOnly", trustcaptcha.FailClosed, true, http.StatusNoContent, false},
	}
	for vname, v := range map[string]trustcaptcha.Verifier{"own deadline": ownDeadline, "own cancel": ownCancel} {
		for _, tc := range cases {
			t.Run(vname+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				var d trustcaptcha.Decision
				var s seen
				h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: v, Failover: tc.failover,
					ReportOnly: tc.reportOnly, Logger: quietLogger(),
					OnDecision: func(_ *http.Request, got trustcaptcha.Decision) { d = got }})(probe(&s))
				rec := send(h, tokenFor(freshID()))
				assert.Equal(t, tc.code, rec.Code)
				assert.Equal(t, "server-unreachable", d.Reason)
				assert.ErrorIs(t, d.Err, trustcaptcha.ErrServerUnreachable)
				assert.Equal(t, tc.failedOver, s.failover)
				if rec.Code == http.StatusBadRequest {
					assert.Contains(t, rec.Body.String(), "(captcha-unavailable)", "the client is not told it cancelled")
				}
			})
		}
	}
	// The request's own context ending stays request-canceled, and enforced.
	ctx, cancel := context.WithCancel(context.Background())
	var d trustcaptcha.Decision
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: trustcaptcha.VerifierFunc(
		func(ctx context.Context, _ string) (*trustcaptcha.Result, error) { cancel(); return nil, ctx.Err() }),
		Failover: trustcaptcha.FailOpen, ReportOnly: true, Logger: quietLogger(),
		OnDecision: func(_ *http.Request, got trustcaptcha.Decision) { d = got }})(probe(&seen{}))
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/contact", nil)
	r.Header.Set("X-TC-Verification-Token", tokenFor(freshID()))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, "request-canceled", d.Reason)
	assert.False(t, d.Admitted)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	// An error that wraps no sentinel stays unknown and is never failed open.
	h = trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: trustcaptcha.VerifierFunc(
		func(context.Context, string) (*trustcaptcha.Result, error) { return nil, errors.New("my own bug") }),
		Failover: trustcaptcha.FailOpen, Logger: quietLogger(),
		OnDecision: func(_ *http.Request, got trustcaptcha.Decision) { d = got }})(probe(&seen{}))
	assert.Equal(t, http.StatusBadRequest, send(h, tokenFor(freshID())).Code)
	assert.Equal(t, "unknown", d.Reason)
}

// failingCounter is a Counter whose store is down.
type failingCounter struct{}

func (failingCounter) Increment(context.Context, string, time.Duration) (int64, error) {
	return 0, errors.New("redis: connection refused")
}

func (failingCounter) Count(context.Context, string, time.Duration) (int64, error) {
	return 0, errors.New("redis: connection refused")
}

// A shared failover budget whose counter fails admits nothing.
func TestLimitFailoverSharedCounterErrorAdmitsNothing(t *testing.T) {
	t.Parallel()
	var d trustcaptcha.Decision
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: &stub{err: trustcaptcha.ErrServerUnreachable}, Logger: quietLogger(),
		Failover:   trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 10, time.Minute, failingCounter{}),
		OnDecision: func(_ *http.Request, dd trustcaptcha.Decision) { d = dd },
	})(probe(&seen{}))
	assert.Equal(t, http.StatusBadRequest, send(h, tokenFor(freshID())).Code)
	assert.Equal(t, "failover-limit-reached", d.Reason)
	assert.ErrorIs(t, d.Err, trustcaptcha.ErrServerUnreachable, "the outage cause is kept")
}
