package redisstore_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/internal/redistest"
	"github.com/captchakit/trustcaptcha/redisstore"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

var (
	_ trustcaptcha.ReplayStore = (*redisstore.Store)(nil)
	_ trustcaptcha.Counter     = (*redisstore.Store)(nil)
)

// redisServer is a redis-server the test started (package redistest).
type redisServer struct {
	*redistest.Server
	t *testing.T
}

func startRedis(t *testing.T) *redisServer { return &redisServer{redistest.Start(t), t} }

// client is a go-redis client with short timeouts, closed at the end.
func (s *redisServer) client() *redis.Client {
	rdb := redis.NewClient(&redis.Options{Addr: s.Addr(), DialTimeout: 200 * time.Millisecond,
		ReadTimeout: 200 * time.Millisecond, WriteTimeout: 200 * time.Millisecond, MaxRetries: -1})
	s.t.Cleanup(func() { rdb.Close() })
	return rdb
}

func TestClaim(t *testing.T) {
	srv := startRedis(t)
	rdb := srv.client()
	store := redisstore.New(rdb, redisstore.WithKeyPrefix("test:"))
	ctx := context.Background()
	expires := time.Now().Add(10 * time.Minute)

	ok, err := store.Claim(ctx, "v1", expires)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = store.Claim(ctx, "v1", expires)
	require.NoError(t, err)
	assert.False(t, ok, "a second claim loses")

	ttl, err := rdb.PTTL(ctx, "test:used:v1").Result()
	require.NoError(t, err)
	assert.InDelta(t, (10 * time.Minute).Seconds(), ttl.Seconds(), 5, "the key expires with the result")

	ok, err = store.Claim(ctx, "gone", time.Now().Add(-time.Second))
	require.NoError(t, err)
	assert.True(t, ok, "an expired result records nothing")
	n, _ := rdb.Exists(ctx, "test:used:gone").Result()
	assert.Zero(t, n)
}

func TestIncrement(t *testing.T) {
	srv := startRedis(t)
	rdb := srv.client()
	store := redisstore.New(rdb)
	ctx := context.Background()
	window := 24 * time.Hour // a window boundary during the test is a day away
	for want := int64(1); want <= 3; want++ {
		n, err := store.Increment(ctx, "k", window)
		require.NoError(t, err)
		assert.Equal(t, want, n)
	}
	keys, err := rdb.Keys(ctx, redisstore.DefaultKeyPrefix+"count:k:*").Result()
	require.NoError(t, err)
	require.Len(t, keys, 1)
	ttl, err := rdb.PTTL(ctx, keys[0]).Result()
	require.NoError(t, err)
	assert.Greater(t, ttl, window-time.Minute, "the window's key expires with the window")
	assert.LessOrEqual(t, ttl, window)
	_, err = store.Increment(ctx, "k", 0)
	assert.Error(t, err)
}

// TestBudgetKeys: failover budgets are counted under keys that name their
// size and window, so two budgets on one Store never share a count, and a
// key prefix keeps two equal budgets apart.
func TestBudgetKeys(t *testing.T) {
	srv := startRedis(t)
	rdb := srv.client()
	ctx := context.Background()
	outage := fmt.Errorf("%w: timeout", trustcaptcha.ErrServerUnreachable)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	admits := func(p trustcaptcha.FailoverPolicy) int {
		n := 0
		for range 5 {
			if p.Admit(r, outage) == nil {
				n++
			}
		}
		return n
	}
	store := redisstore.New(rdb)
	assert.Equal(t, 2, admits(trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 2, 24*time.Hour, store)))
	assert.Equal(t, 3, admits(trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 3, 24*time.Hour, store)))
	other := redisstore.New(rdb, redisstore.WithKeyPrefix("site-b:"))
	assert.Equal(t, 2, admits(trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 2, 24*time.Hour, other)))
	keys, err := rdb.Keys(ctx, "*count:failover:*").Result()
	require.NoError(t, err)
	assert.Len(t, keys, 3)
	for _, want := range []string{"trustcaptcha:count:failover:2/24h0m0s:", "trustcaptcha:count:failover:3/24h0m0s:",
		"site-b:count:failover:2/24h0m0s:"} {
		assert.True(t, slices.ContainsFunc(keys, func(k string) bool { return strings.HasPrefix(k, want) }),
			"no key %s* in %v", want, keys)
	}
}

// instance is one "server" of a fleet: its own Redis client and middleware.
func instance(t *testing.T, srv *redisServer, opts trustcaptcha.Options) (*httptest.Server, *atomic.Int64) {
	store := redisstore.New(srv.client())
	if opts.ReplayStore == nil {
		opts.ReplayStore = store
	}
	if opts.Failover != nil {
		opts.Failover = trustcaptcha.LimitFailoverShared(opts.Failover, 10, 24*time.Hour, store)
	}
	var admitted atomic.Int64
	h := trustcaptcha.RequireCaptcha(opts)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		admitted.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts, &admitted
}

func post(t *testing.T, url, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, nil)
	require.NoError(t, err)
	req.Header.Set("X-TC-Verification-Token", token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	return resp.StatusCode
}

func TestTwoInstancesAdmitATokenOnce(t *testing.T) {
	srv := startRedis(t)
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	a, admittedA := instance(t, srv, trustcaptcha.Options{Verifier: api.Client()})
	b, admittedB := instance(t, srv, trustcaptcha.Options{Verifier: api.Client()})

	tok := api.Human()
	assert.Equal(t, http.StatusNoContent, post(t, a.URL, tok))
	assert.Equal(t, http.StatusBadRequest, post(t, b.URL, tok), "the other instance knows it was used")
	assert.Equal(t, http.StatusBadRequest, post(t, a.URL, tok))

	// 100 concurrent requests with one token, split between the two.
	admittedA.Store(0)
	admittedB.Store(0)
	tok = api.Human()
	var wg sync.WaitGroup
	for i := range 100 {
		url := a.URL
		if i%2 == 1 {
			url = b.URL
		}
		wg.Go(func() { post(t, url, tok) })
	}
	wg.Wait()
	assert.Equal(t, int64(1), admittedA.Load()+admittedB.Load(), "exactly one request admitted across the fleet")
}

func TestSharedFailoverBudget(t *testing.T) {
	srv := startRedis(t)
	down := trustcaptcha.VerifierFunc(func(context.Context, string) (*trustcaptcha.Result, error) {
		return nil, fmt.Errorf("%w: connection refused", trustcaptcha.ErrServerUnreachable)
	})
	var urls []string
	var counters []*atomic.Int64
	for range 4 {
		ts, n := instance(t, srv, trustcaptcha.Options{Verifier: down, Failover: trustcaptcha.FailOpen})
		urls, counters = append(urls, ts.URL), append(counters, n)
	}
	for i := range 40 {
		post(t, urls[i%4], trustcaptchatest.Token(fmt.Sprintf("00000000-0000-4000-8000-%012d", i)))
	}
	total := int64(0)
	for _, n := range counters {
		total += n.Load()
	}
	assert.Equal(t, int64(10), total, "a budget of 10 shared by 4 instances admits 10, not 40")
}

func TestRedisDownRejectsAndRecovers(t *testing.T) {
	srv := startRedis(t)
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	var reasons []string
	var mu sync.Mutex
	a, admitted := instance(t, srv, trustcaptcha.Options{Verifier: api.Client(), Failover: trustcaptcha.FailOpen,
		OnDecision: func(_ *http.Request, d trustcaptcha.Decision) {
			mu.Lock()
			defer mu.Unlock()
			reasons = append(reasons, d.Reason)
		}})
	require.Equal(t, http.StatusNoContent, post(t, a.URL, api.Human()))

	srv.Stop()
	for range 3 {
		start := time.Now()
		assert.Equal(t, http.StatusBadRequest, post(t, a.URL, api.Human()))
		assert.Less(t, time.Since(start), 5*time.Second, "a Redis that is down must not hang requests")
	}
	assert.Equal(t, int64(1), admitted.Load(), "nothing admitted while the replay check is down")
	mu.Lock()
	assert.Equal(t, []string{"passed", "replay-check-unavailable",
		"replay-check-unavailable", "replay-check-unavailable"}, reasons)
	mu.Unlock()

	srv.Restart() // same port, empty
	assert.Eventually(t, func() bool { return post(t, a.URL, api.Human()) == http.StatusNoContent },
		10*time.Second, 50*time.Millisecond, "admitted again once Redis is back")
}

// commands is how many commands the server has processed.
func commands(t *testing.T, rdb *redis.Client) int64 {
	t.Helper()
	info, err := rdb.Info(context.Background(), "stats").Result()
	require.NoError(t, err)
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			require.NoError(t, err)
			return n
		}
	}
	t.Fatal("no total_commands_processed in INFO")
	return 0
}

// TestOneRoundTripPerVerification: an admitted verification costs one Redis
// command (SET NX), a failover admission one more (the budget's script).
func TestOneRoundTripPerVerification(t *testing.T) {
	srv := startRedis(t)
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	rdb := srv.client()
	a, _ := instance(t, srv, trustcaptcha.Options{Verifier: api.Client()})
	post(t, a.URL, api.Human()) // warm up connections
	before := commands(t, rdb)
	require.Equal(t, http.StatusNoContent, post(t, a.URL, api.Human()))
	// INFO reports the count before itself: the difference holds the first INFO.
	assert.Equal(t, int64(1), commands(t, rdb)-before-1, "Redis commands for one admitted verification")
}

func TestCount(t *testing.T) {
	srv := startRedis(t)
	store := redisstore.New(srv.client())
	ctx := context.Background()
	window := 24 * time.Hour
	n, err := store.Count(ctx, "k", window)
	require.NoError(t, err)
	assert.Zero(t, n, "a key never counted")
	for range 3 {
		_, err := store.Increment(ctx, "k", window)
		require.NoError(t, err)
	}
	for range 2 {
		n, err = store.Count(ctx, "k", window)
		require.NoError(t, err)
		assert.Equal(t, int64(3), n, "Count adds nothing")
	}
	n, err = store.Count(ctx, "k", time.Hour)
	require.NoError(t, err)
	assert.Zero(t, n, "another window length is another count")
	_, err = store.Count(ctx, "k", 0)
	assert.Error(t, err)
	srv.Stop()
	_, err = store.Count(ctx, "k", window)
	assert.Error(t, err, "Redis down is an error, never a zero count")
}

// TestStepUpBurstAcrossTwoServers: two servers of a fleet, each with its own
// Redis client and StepUp on one Redis, get 1,000 requests without a token
// from one client at once, half each: exactly After reach a handler.
func TestStepUpBurstAcrossTwoServers(t *testing.T) {
	srv := startRedis(t)
	const after, burst = 5, 1000
	var reached atomic.Int64
	var urls []string
	for range 2 {
		su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: after, Per: 24 * time.Hour,
			Name: "login", Counter: redisstore.New(srv.client())})
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
			Verifier: trustcaptcha.VerifierFunc(func(context.Context, string) (*trustcaptcha.Result, error) {
				return nil, fmt.Errorf("%w: no token was expected", trustcaptcha.ErrUnexpectedResponse)
			}),
			Required: su.Required,
		})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			reached.Add(1)
			w.WriteHeader(http.StatusUnauthorized) // a wrong password
		}))
		ts := httptest.NewServer(h)
		t.Cleanup(ts.Close)
		urls = append(urls, ts.URL)
	}
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	t.Cleanup(hc.CloseIdleConnections)
	var wg sync.WaitGroup
	var refused atomic.Int64
	start := make(chan struct{})
	for i := range burst {
		wg.Go(func() {
			<-start
			resp, err := hc.PostForm(urls[i%2]+"/login", map[string][]string{"user": {"ada"}, "password": {"guess"}})
			if !assert.NoError(t, err) {
				return
			}
			resp.Body.Close()
			if resp.StatusCode == http.StatusBadRequest {
				refused.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int64(after), reached.Load(), "exactly After passed, across both servers")
	assert.Equal(t, int64(burst-after), refused.Load())
}
