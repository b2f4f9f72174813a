package trustcaptcha_test

// Single use (replay.go, and the claim in middleware.go): MemoryStore's
// claims and counts, and the middleware's use of a ReplayStore.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
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

// recordingStore is a ReplayStore that remembers what it was asked, or fails.
type recordingStore struct {
	mu     sync.Mutex
	ids    []string
	expiry []time.Time
	err    error
	inner  *trustcaptcha.MemoryStore
}

func (s *recordingStore) Claim(ctx context.Context, id string, expires time.Time) (bool, error) {
	s.mu.Lock()
	s.ids, s.expiry = append(s.ids, id), append(s.expiry, expires)
	s.mu.Unlock()
	if s.err != nil {
		return false, s.err
	}
	return s.inner.Claim(ctx, id, expires)
}

func TestSingleUse(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	client := api.Client()

	t.Run("a replayed token is rejected by default", func(t *testing.T) {
		t.Parallel()
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client})(probe(&seen{}))
		tok := api.Human()
		assert.Equal(t, http.StatusNoContent, send(h, tok).Code)
		rec := send(h, tok)
		assert.Equal(t, http.StatusBadRequest, rec.Code)
		assert.Contains(t, rec.Body.String(), "token-reused")
	})

	t.Run("the same verification re-encoded is rejected", func(t *testing.T) {
		t.Parallel()
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client})(probe(&seen{}))
		tok := api.Human()
		parsed, err := trustcaptcha.ParseToken(tok)
		require.NoError(t, err)
		parsed.ExpiresAt = time.Now().Add(time.Hour) // other bytes, same verification
		again := parsed.Encode()
		require.NotEqual(t, tok, again)
		assert.Equal(t, http.StatusNoContent, send(h, tok).Code)
		assert.Equal(t, http.StatusBadRequest, send(h, again).Code)
	})

	t.Run("every RequireCaptcha in the process shares the default store", func(t *testing.T) {
		t.Parallel()
		a := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client})(probe(&seen{}))
		b := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client})(probe(&seen{}))
		tok := api.Human()
		assert.Equal(t, http.StatusNoContent, send(a, tok).Code)
		assert.Equal(t, http.StatusBadRequest, send(b, tok).Code)
	})

	t.Run("concurrent requests with one token: exactly one is admitted", func(t *testing.T) {
		t.Parallel()
		var admitted atomic.Int64
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client})(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { admitted.Add(1) }))
		tok := api.Human()
		var wg sync.WaitGroup
		for range 50 {
			wg.Go(func() { send(h, tok) })
		}
		wg.Wait()
		assert.Equal(t, int64(1), admitted.Load())
	})

	t.Run("AllowReplay turns the check off", func(t *testing.T) {
		t.Parallel()
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client, AllowReplay: true})(probe(&seen{}))
		tok := api.Human()
		assert.Equal(t, http.StatusNoContent, send(h, tok).Code)
		assert.Equal(t, http.StatusNoContent, send(h, tok).Code)
	})

	t.Run("ReportOnly reports a reuse and admits", func(t *testing.T) {
		t.Parallel()
		var s seen
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client, ReportOnly: true})(probe(&s))
		tok := api.Human()
		send(h, tok)
		s = seen{}
		assert.Equal(t, http.StatusNoContent, send(h, tok).Code)
		assert.True(t, s.ran)
		assert.False(t, s.decision.Admitted)
		assert.Equal(t, "token-reused", s.decision.Reason)
		assert.False(t, s.hasResult, "a reused result is not offered as passed")
	})

	t.Run("a rejected request claims nothing", func(t *testing.T) {
		t.Parallel()
		store := &recordingStore{inner: trustcaptcha.NewMemoryStore()}
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client, ReplayStore: store})(probe(&seen{}))
		send(h, api.Bot())
		send(h, api.Failed())
		send(h, trustcaptchatest.ClientFailoverToken())
		assert.Empty(t, store.ids)
	})
}

func TestSingleUseDuringFailover(t *testing.T) {
	t.Parallel()
	v := &stub{err: trustcaptcha.ErrServerUnreachable}
	store := &recordingStore{inner: trustcaptcha.NewMemoryStore()}
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: v, Failover: trustcaptcha.FailOpen,
		ReplayStore: store})(probe(&seen{}))
	tok := tokenFor(freshID())
	assert.Equal(t, http.StatusNoContent, send(h, tok).Code, "admitted on failover")
	rec := send(h, tok)
	assert.Equal(t, http.StatusBadRequest, rec.Code, "a failover admission is single use too")
	assert.Contains(t, rec.Body.String(), "token-reused")
	parsed, _ := trustcaptcha.ParseToken(tok)
	assert.Equal(t, parsed.VerificationID, store.ids[0], "without a result the token's verification is claimed")
	assert.WithinDuration(t, time.Now().Add(15*time.Minute), store.expiry[0], time.Minute)
}

func TestSingleUseClaimsUntilTheResultExpires(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	store := &recordingStore{inner: trustcaptcha.NewMemoryStore()}
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client(), ReplayStore: store})(probe(&seen{}))
	expires := time.Now().Add(7 * time.Minute).UTC().Truncate(time.Millisecond)
	tok := api.Add(trustcaptcha.Result{VerificationPassed: true, Score: 0.1, ResultExpiresAt: expires})
	require.Equal(t, http.StatusNoContent, send(h, tok).Code)
	parsed, _ := trustcaptcha.ParseToken(tok)
	assert.Equal(t, []string{parsed.VerificationID}, store.ids)
	assert.True(t, expires.Equal(store.expiry[0]), "claimed until %v, want %v", store.expiry[0], expires)
}

func TestReplayStoreErrorRejects(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	var d trustcaptcha.Decision
	store := &recordingStore{err: errors.New("redis: connection refused")}
	for _, failover := range []trustcaptcha.FailoverPolicy{trustcaptcha.FailClosed, trustcaptcha.FailOpen} {
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
			Verifier: &stub{}, ReplayStore: store, Failover: failover,
			Logger:     slog.New(slog.NewTextHandler(&logs, nil)),
			OnDecision: func(_ *http.Request, dd trustcaptcha.Decision) { d = dd },
		})(probe(&seen{}))
		r := httptest.NewRequest(http.MethodPost, "/contact", nil)
		r.Header.Set("X-TC-Verification-Token", tokHuman)
		r.Header.Set("Accept", "application/json")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		assert.Equal(t, http.StatusBadRequest, rec.Code)
		assert.Equal(t, "captcha-unavailable", problem(t, rec).Reason, "the client learns nothing")
		assert.NotContains(t, rec.Body.String(), "redis")
		assert.Equal(t, "replay-check-unavailable", d.Reason)
		assert.ErrorIs(t, d.Err, trustcaptcha.ErrReplayCheckUnavailable)
		assert.Contains(t, logs.String(), "level=ERROR", "the operator is told")
	}
}

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("a claim holds until it expires, then is freed", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		s := trustcaptcha.NewMemoryStoreWithClock(clock.Now, 10)
		ok, err := s.Claim(ctx, "a", clock.Now().Add(time.Minute))
		require.NoError(t, err)
		assert.True(t, ok)
		ok, _ = s.Claim(ctx, "a", clock.Now().Add(time.Minute))
		assert.False(t, ok, "used")
		clock.Advance(59 * time.Second)
		ok, _ = s.Claim(ctx, "a", clock.Now().Add(time.Minute))
		assert.False(t, ok, "still used")
		clock.Advance(time.Second)
		ok, _ = s.Claim(ctx, "a", clock.Now().Add(time.Minute))
		assert.True(t, ok, "expired: free again")
	})

	t.Run("at the bound a claim is an error, never a forgotten claim", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		s := trustcaptcha.NewMemoryStoreWithClock(clock.Now, 2)
		for _, id := range []string{"a", "b"} {
			ok, err := s.Claim(ctx, id, clock.Now().Add(time.Minute))
			require.NoError(t, err)
			require.True(t, ok)
		}
		_, err := s.Claim(ctx, "c", clock.Now().Add(time.Minute))
		assert.Error(t, err)
		ok, err := s.Claim(ctx, "a", clock.Now().Add(time.Minute))
		assert.NoError(t, err)
		assert.False(t, ok, "a full store still knows its claims")
		clock.Advance(time.Minute)
		ok, err = s.Claim(ctx, "c", clock.Now().Add(time.Minute))
		assert.NoError(t, err)
		assert.True(t, ok, "expired claims make room")
	})

	t.Run("concurrent claims of one id: exactly one wins", func(t *testing.T) {
		t.Parallel()
		s := trustcaptcha.NewMemoryStore()
		var wins atomic.Int64
		var wg sync.WaitGroup
		for range 100 {
			wg.Go(func() {
				if ok, err := s.Claim(ctx, "same", time.Now().Add(time.Minute)); err == nil && ok {
					wins.Add(1)
				}
			})
		}
		wg.Wait()
		assert.Equal(t, int64(1), wins.Load())
	})

	t.Run("counts in fixed windows", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock() // on a whole minute
		s := trustcaptcha.NewMemoryStoreWithClock(clock.Now, 10)
		for want := int64(1); want <= 3; want++ {
			n, err := s.Increment(ctx, "k", time.Minute)
			require.NoError(t, err)
			assert.Equal(t, want, n)
		}
		n, _ := s.Increment(ctx, "other", time.Minute)
		assert.Equal(t, int64(1), n, "keys count apart")
		clock.Advance(time.Minute)
		n, _ = s.Increment(ctx, "k", time.Minute)
		assert.Equal(t, int64(1), n, "a new window starts at zero")
		_, err := s.Increment(ctx, "k", 0)
		assert.Error(t, err)
	})

	t.Run("at the window bound a new key is an error, never a reset", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		s := trustcaptcha.NewMemoryStoreWithBounds(clock.Now, 10, 3)
		for _, k := range []string{"a", "b", "c"} {
			n, err := s.Increment(ctx, k, time.Hour)
			require.NoError(t, err)
			require.Equal(t, int64(1), n)
		}
		_, err := s.Increment(ctx, "d", time.Hour)
		assert.ErrorContains(t, err, "bound")
		n, err := s.Increment(ctx, "a", time.Hour)
		require.NoError(t, err)
		assert.Equal(t, int64(2), n, "a full store still counts its live windows")
		clock.Advance(time.Hour)
		for _, k := range []string{"d", "e", "f"} {
			n, err := s.Increment(ctx, k, time.Hour)
			require.NoError(t, err, "ended windows make room")
			assert.Equal(t, int64(1), n)
		}
		n, err = s.Increment(ctx, "a", time.Minute)
		assert.Error(t, err, "another length on a key is another window")
		assert.Zero(t, n)
	})

	t.Run("windows of several lengths end on their own", func(t *testing.T) {
		t.Parallel()
		clock := newFakeClock()
		s := trustcaptcha.NewMemoryStoreWithBounds(clock.Now, 10, 2)
		_, err := s.Increment(ctx, "k", time.Minute)
		require.NoError(t, err)
		_, err = s.Increment(ctx, "k", time.Hour)
		require.NoError(t, err)
		clock.Advance(time.Minute)
		n, err := s.Increment(ctx, "k", time.Minute)
		require.NoError(t, err, "the minute window ended and was freed")
		assert.Equal(t, int64(1), n)
		n, err = s.Increment(ctx, "k", time.Hour)
		require.NoError(t, err)
		assert.Equal(t, int64(2), n, "the hour window goes on")
	})

	t.Run("100,000 clients each counted", func(t *testing.T) {
		t.Parallel()
		// A per-client failover budget during an outage: one key per address.
		// The cost per call does not grow with the keys (BenchmarkMemoryStoreIncrement).
		s := trustcaptcha.NewMemoryStore()
		start := time.Now()
		for round := int64(1); round <= 2; round++ {
			for i := range 100_000 {
				n, err := s.Increment(ctx, fmt.Sprintf("client:2001:db8::%x", i), time.Hour)
				if err != nil || n != round {
					require.NoError(t, err)
					require.Equal(t, round, n, "key %d", i)
				}
			}
		}
		// Not a benchmark: a guard against a cost that grows with the keys,
		// which took about a minute here (each new key walked every window).
		// This takes about 0.2 s, 2 s under the race detector.
		took := time.Since(start)
		t.Logf("200,000 calls on 100,000 keys: %v", took)
		assert.Less(t, took, 20*time.Second, "the cost of a call grows with the live windows")
	})
}

// TestMemoryStoreCountsPerWindowLength: one key counted in two window
// lengths keeps two counts.
func TestMemoryStoreCountsPerWindowLength(t *testing.T) {
	t.Parallel()
	s := trustcaptcha.NewMemoryStore()
	ctx := context.Background()
	for i := range 3 {
		n, err := s.Increment(ctx, "k", time.Minute)
		require.NoError(t, err)
		assert.Equal(t, int64(i+1), n)
		n, err = s.Increment(ctx, "k", time.Hour)
		require.NoError(t, err)
		assert.Equal(t, int64(i+1), n)
	}
}
