package trustcaptcha_test

// Failover budgets on a shared Counter.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
)

// admits counts how many of n outage requests p admits.
func admits(p trustcaptcha.FailoverPolicy, n int) int {
	err := fmt.Errorf("%w: timeout", trustcaptcha.ErrServerUnreachable)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	got := 0
	for range n {
		if p.Admit(r, err) {
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
