package trustcaptcha_test

// The outage breaker (breaker.go): when it opens, how it probes, and that a
// probe is always settled.

import (
	"context"
	"errors"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestBreakerCooldownAdapts: the first probe after opening comes after
// 500 ms, each failed probe doubles the wait up to the cooldown, and a
// success closes the breaker and resets the wait.
func TestBreakerCooldownAdapts(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	const cooldown = 5 * time.Second
	clock := newFakeClock()
	c := api.Client(trustcaptcha.WithBreaker(3, cooldown), trustcaptcha.WithClock(clock.Now))
	tok := api.Human()
	ctx := context.Background()
	open := func() {
		t.Helper()
		for range 3 {
			_, err := c.Verify(ctx, tok)
			require.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
			require.NotErrorIs(t, err, trustcaptcha.ErrBreakerOpen)
		}
	}
	// waitsFor checks the breaker answers at once until wait has passed,
	// then lets exactly one probe through.
	probeAfter := func(wait time.Duration) error {
		t.Helper()
		before := api.Fetches(tok)
		clock.Advance(wait - time.Millisecond)
		for range 5 {
			_, err := c.Verify(ctx, tok)
			require.ErrorIs(t, err, trustcaptcha.ErrBreakerOpen, "still waiting %v", wait)
		}
		require.Equal(t, before, api.Fetches(tok), "the open breaker let a request through")
		clock.Advance(time.Millisecond)
		_, err := c.Verify(ctx, tok)
		require.Equal(t, before+1, api.Fetches(tok), "one probe after %v", wait)
		return err
	}

	api.Down(http.StatusServiceUnavailable)
	open()
	for _, wait := range []time.Duration{500 * time.Millisecond, time.Second, 2 * time.Second, 4 * time.Second,
		cooldown, cooldown} {
		err := probeAfter(wait)
		require.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
		require.NotErrorIs(t, err, trustcaptcha.ErrBreakerOpen, "the probe went to the API")
	}

	api.Down(0) // the API is back: the next probe closes the breaker
	require.NoError(t, probeAfter(cooldown))
	for range 3 {
		_, err := c.Verify(ctx, tok)
		require.NoError(t, err)
	}

	api.Down(http.StatusServiceUnavailable) // a new outage starts at 500 ms again
	open()
	require.ErrorIs(t, probeAfter(500*time.Millisecond), trustcaptcha.ErrServerUnreachable)
}

// panicky is a transport that panics while armed, and otherwise passes on.
type panicky struct {
	armed atomic.Bool
	next  http.RoundTripper
}

func (p *panicky) RoundTrip(r *http.Request) (*http.Response, error) {
	if p.armed.Load() {
		panic("transport exploded")
	}
	return p.next.RoundTrip(r)
}

// TestBreakerProbeThatPanicsIsSettled: a probe whose request panics is
// still recorded (the panic goes on up), so the next request probes again
// and the breaker closes when the API answers.
func TestBreakerProbeThatPanicsIsSettled(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	clock := newFakeClock()
	tr := &panicky{next: http.DefaultTransport}
	c := api.Client(trustcaptcha.WithHTTPClient(&http.Client{Transport: tr}),
		trustcaptcha.WithBreaker(2, time.Minute), trustcaptcha.WithClock(clock.Now))
	ctx := context.Background()
	api.Down(http.StatusServiceUnavailable)
	for range 2 {
		_, err := c.Verify(ctx, api.Human())
		require.NotErrorIs(t, err, trustcaptcha.ErrBreakerOpen)
	}
	api.Down(0)
	clock.Advance(time.Second)
	tr.armed.Store(true)
	require.PanicsWithValue(t, "transport exploded", func() { _, _ = c.Verify(ctx, api.Human()) })
	tr.armed.Store(false)
	_, err := c.Verify(ctx, api.Human()) // no time has passed: the lost probe no longer counts
	require.NoError(t, err, "the breaker stayed open after its probe panicked")
}

// blocking is a transport whose requests, while armed, wait until released.
type blocking struct {
	armed   atomic.Bool
	started chan struct{}
	release chan struct{}
}

func (b *blocking) RoundTrip(r *http.Request) (*http.Response, error) {
	if !b.armed.Load() {
		return http.DefaultTransport.RoundTrip(r)
	}
	b.started <- struct{}{}
	<-b.release
	return nil, errors.New("released")
}

// TestBreakerProbeHeldNoLongerThanTheTimeout: a probe that does not come
// back within the Client's timeout (and 100 ms for its outcome to be
// recorded) no longer holds the breaker: the next request probes.
func TestBreakerProbeHeldNoLongerThanTheTimeout(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	clock := newFakeClock()
	const timeout = time.Hour
	tr := &blocking{started: make(chan struct{}, 1), release: make(chan struct{})}
	c := api.Client(trustcaptcha.WithHTTPClient(&http.Client{Transport: tr}), trustcaptcha.WithTimeout(timeout),
		trustcaptcha.WithBreaker(1, time.Minute), trustcaptcha.WithClock(clock.Now))
	ctx := context.Background()
	api.Down(http.StatusServiceUnavailable)
	_, err := c.Verify(ctx, api.Human())
	require.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
	api.Down(0)

	tr.armed.Store(true) // the probe hangs (its real deadline is far off)
	clock.Advance(time.Second)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Verify(ctx, api.Human())
	}()
	t.Cleanup(func() { // also when an assertion below fails
		close(tr.release)
		<-done
	})
	select {
	case <-tr.started:
	case <-done:
		t.Fatal("no probe went to the API a second after the breaker opened")
	}
	tr.armed.Store(false)
	_, err = c.Verify(ctx, api.Human())
	require.ErrorIs(t, err, trustcaptcha.ErrBreakerOpen, "one probe at a time")
	clock.Advance(timeout)
	_, err = c.Verify(ctx, api.Human())
	require.ErrorIs(t, err, trustcaptcha.ErrBreakerOpen, "its outcome may still be on its way")
	clock.Advance(100 * time.Millisecond)
	_, err = c.Verify(ctx, api.Human())
	require.NoError(t, err, "a probe older than the timeout no longer holds the breaker")
}

func TestClientBreakerIgnoresAnswersThatAreNoOutage(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	c := api.Client(trustcaptcha.WithBreaker(2, time.Hour))
	for range 10 {
		_, err := c.Verify(context.Background(), trustcaptchatest.Token(trustcaptchatest.NotFoundVerificationID))
		require.ErrorIs(t, err, trustcaptcha.ErrVerificationNotFound)
	}
	res, err := c.Verify(context.Background(), api.Human())
	require.NoError(t, err)
	assert.True(t, res.VerificationPassed)
}
