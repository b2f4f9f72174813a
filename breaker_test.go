package trustcaptcha_test

// The outage breaker and the connection pool under faults.

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
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

// countingServer is an API whose answer to its n-th request (from 1) is
// answer(w, r, n), and which counts the connections it accepted.
func countingServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, n int64)) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var calls, conns atomic.Int64
	api := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		answer(w, r, calls.Add(1))
	}))
	api.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	api.Start()
	t.Cleanup(api.Close)
	return api, &conns
}

// TestClientKeepsItsPoolAfterA5xx: an HTTP answer proves its connection
// works, so 5xx answers (1 in 5 here) never make the client dial again.
func TestClientKeepsItsPoolAfterA5xx(t *testing.T) {
	t.Parallel()
	api, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		if n%5 == 0 {
			w.WriteHeader(http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte(resultJSON(true, 0.1)))
	})
	c := newClient(t, api.URL, trustcaptcha.WithBreaker(0, 0))
	failed := 0
	for range 50 {
		if _, err := c.Verify(context.Background(), tokenFor(someID)); err != nil {
			require.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
			failed++
		}
	}
	assert.Equal(t, 10, failed)
	assert.Equal(t, int64(1), conns.Load(), "connections dialled for 50 verifications, 10 of them 503")
}

// TestClientDropsIdleConnectionsAfterATimeout: a verification that gets no
// answer on its connection may have met a dead one: the idle connections
// are dropped and the next verification dials afresh.
func TestClientDropsIdleConnectionsAfterATimeout(t *testing.T) {
	t.Parallel()
	api, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request, n int64) {
		if n == 2 {
			<-r.Context().Done() // no answer: the client times out
			return
		}
		_, _ = w.Write([]byte(resultJSON(true, 0.1)))
	})
	c := newClient(t, api.URL, trustcaptcha.WithTimeout(time.Second)) // the other calls answer within it on a loaded machine
	tok := tokenFor(someID)
	_, err := c.Verify(context.Background(), tok)
	require.NoError(t, err)
	_, err = c.Verify(context.Background(), tok)
	require.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
	_, err = c.Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, int64(2), conns.Load(), "a fresh connection after the timeout")
}

// TestClientStats: InFlight follows the verifications waiting on the API,
// BreakerOpen the breaker.
func TestClientStats(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	clock := newFakeClock()
	tr := &blocking{started: make(chan struct{}, 1), release: make(chan struct{})}
	c := api.Client(trustcaptcha.WithHTTPClient(&http.Client{Transport: tr}),
		trustcaptcha.WithBreaker(1, time.Minute), trustcaptcha.WithClock(clock.Now))
	ctx := context.Background()
	assert.Equal(t, trustcaptcha.ClientStats{}, c.Stats())

	tr.armed.Store(true)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = c.Verify(ctx, api.Human())
	}()
	<-tr.started
	assert.Equal(t, trustcaptcha.ClientStats{InFlight: 1}, c.Stats(), "one verification waits on the API")
	tr.armed.Store(false)
	close(tr.release) // it fails (a transport error): the breaker opens
	<-done
	assert.Equal(t, trustcaptcha.ClientStats{BreakerOpen: true}, c.Stats())

	clock.Advance(time.Second) // the probe closes it
	_, err := c.Verify(ctx, api.Human())
	require.NoError(t, err)
	assert.Equal(t, trustcaptcha.ClientStats{}, c.Stats())
}

// TestWithTransportWrapper: the wrapper sees every request of the Client's
// own transport, and cannot be mixed with WithHTTPClient.
func TestWithTransportWrapper(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	var seen atomic.Int64
	var inner http.RoundTripper
	c := api.Client(trustcaptcha.WithTransportWrapper(func(next http.RoundTripper) http.RoundTripper {
		inner = next
		return roundTrip(func(r *http.Request) (*http.Response, error) {
			seen.Add(1)
			return next.RoundTrip(r)
		})
	}))
	_, ok := inner.(*http.Transport)
	assert.True(t, ok, "the wrapper gets the Client's own transport")
	for range 3 {
		_, err := c.Verify(context.Background(), api.Human())
		require.NoError(t, err)
	}
	assert.Equal(t, int64(3), seen.Load())

	_, err := trustcaptcha.NewClient("k", trustcaptcha.WithTransportWrapper(nil))
	assert.Error(t, err)
	_, err = trustcaptcha.NewClient("k", trustcaptcha.WithTransportWrapper(
		func(http.RoundTripper) http.RoundTripper { return nil }))
	assert.Error(t, err)
	_, err = trustcaptcha.NewClient("k", trustcaptcha.WithHTTPClient(&http.Client{}),
		trustcaptcha.WithTransportWrapper(func(rt http.RoundTripper) http.RoundTripper { return rt }))
	assert.Error(t, err)
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// silentProxy forwards TCP connections to target. kill makes every connection
// open at that moment die without a reset, as a NAT or load balancer that
// forgot it: what either side writes is read and dropped, and the connection
// stays open until the client closes it. New connections work.
type silentProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	pipes  []*silentPipe // held until close: a collected net.Conn is closed, with a reset
}

type silentPipe struct {
	dead       atomic.Bool
	client, up net.Conn
	once       sync.Once
}

func newSilentProxy(t *testing.T, target string) *silentProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &silentProxy{ln: ln, target: target}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				c.Close()
				continue
			}
			pp := &silentPipe{client: c, up: up}
			p.mu.Lock()
			p.pipes = append(p.pipes, pp)
			p.mu.Unlock()
			wg.Go(func() { pp.copy(up, c) })
			wg.Go(func() { pp.copy(c, up) })
		}
	})
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, pp := range p.pipes {
			pp.close()
		}
		p.mu.Unlock()
		wg.Wait()
	})
	return p
}

func (pp *silentPipe) copy(dst, src net.Conn) {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && !pp.dead.Load() {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				err = werr
			}
		}
		if err != nil {
			if !pp.dead.Load() || src == pp.client {
				pp.close()
			}
			return
		}
	}
}

func (pp *silentPipe) close() {
	pp.once.Do(func() {
		pp.client.Close()
		pp.up.Close()
	})
}

func (p *silentProxy) kill() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, pp := range p.pipes {
		pp.dead.Store(true)
	}
}

// TestClientReplacesSilentlyDeadConnections: the pooled connections die
// without a reset while verifications keep coming; a verification passes
// again within the timeout + 2 s, over HTTP/1.1 (the timeout drops the idle
// pool) and over HTTP/2 (the health check closes the busy connection: without
// it, the requests that keep arriving keep it, and the breaker's probes wait
// on it too, 8 s in the load program).
func TestClientReplacesSilentlyDeadConnections(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	for _, h2 := range []bool{false, true} {
		t.Run(map[bool]string{false: "HTTP/1.1", true: "HTTP/2"}[h2], func(t *testing.T) {
			t.Parallel()
			api := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/verifications/"), "/results")
				_, _ = w.Write([]byte(`{"verificationId":"` + id + `","verificationPassed":true,"score":0.1}`))
			}))
			api.EnableHTTP2 = h2
			api.StartTLS()
			t.Cleanup(api.Close)
			px := newSilentProxy(t, api.Listener.Addr().String())
			roots := x509.NewCertPool()
			roots.AddCert(api.Certificate())
			c := newClient(t, "https://"+px.ln.Addr().String(), trustcaptcha.WithTimeout(timeout),
				trustcaptcha.WithTLSConfig(&tls.Config{RootCAs: roots}))

			var killed atomic.Bool
			passed := make(chan struct{}) // closed by the first pass that started after the kill
			var once sync.Once
			stop := make(chan struct{})
			var wg sync.WaitGroup
			for range 4 { // visitors, one verification after another
				wg.Go(func() {
					for {
						select {
						case <-stop:
							return
						default:
						}
						after := killed.Load()
						_, err := c.Verify(context.Background(), tokenFor(freshID()))
						if err == nil && after {
							once.Do(func() { close(passed) })
						}
					}
				})
			}
			t.Cleanup(func() { close(stop); wg.Wait() })
			// Healthy first: every visitor has passed on the pooled connections.
			_, err := c.Verify(context.Background(), tokenFor(freshID()))
			require.NoError(t, err)

			px.kill()
			killed.Store(true)
			select {
			case <-passed:
			case <-time.After(timeout + 2*time.Second):
				t.Fatalf("no verification passed within the timeout + 2 s of the connections' death")
			}
		})
	}
}
