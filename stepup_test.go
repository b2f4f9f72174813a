package trustcaptcha_test

// Options.Required and StepUp: a request without a token is admitted
// unverified while its client, its account and the site stay under their
// counts, and asked for a CAPTCHA beyond them.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captchakit/trustcaptcha"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRequiredHook: Options.Required is asked once, for a request without a
// token whose body is absent or was read whole; a request it lets through is
// admitted unverified and marked so. A token is verified as always, and a
// body that cannot carry or hand on a token is rejected without asking.
func TestRequiredHook(t *testing.T) {
	t.Parallel()
	malformed := "--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAda" // cut off
	cases := []struct {
		name  string
		req   reqCase
		asked bool
		want  int
	}{
		{"a form without the token field", reqCase{contentType: "application/x-www-form-urlencoded",
			body: form("name", "Ada")}, true, http.StatusNoContent},
		{"an empty POST", reqCase{contentType: "application/x-www-form-urlencoded"}, true, http.StatusNoContent},
		{"a GET without a body", reqCase{method: http.MethodGet}, true, http.StatusNoContent},
		{"a JSON object without the member", reqCase{contentType: "application/json", body: `{"name":"Ada"}`},
			true, http.StatusNoContent},
		{"a JSON body that is not an object", reqCase{contentType: "application/json", body: `[1,2]`},
			true, http.StatusNoContent},
		{"a multipart form without the token field", reqCase{contentType: "multipart/form-data; boundary=B",
			body: "--B\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nAda\r\n--B--\r\n"},
			true, http.StatusNoContent},
		{"a bot's token", reqCase{contentType: "application/x-www-form-urlencoded",
			body: form("tc-verification-token", tokBot)}, false, http.StatusBadRequest},
		{"a malformed token", reqCase{contentType: "application/x-www-form-urlencoded",
			body: form("tc-verification-token", "not-a-token")}, false, http.StatusBadRequest},
		{"a human's token", reqCase{contentType: "application/x-www-form-urlencoded",
			body: form("tc-verification-token", tokHuman)}, false, http.StatusNoContent},
		{"an oversized body", reqCase{contentType: "application/x-www-form-urlencoded",
			body: strings.Repeat("a", 2<<10)}, false, http.StatusRequestEntityTooLarge},
		{"a multipart form cut off", reqCase{contentType: "multipart/form-data; boundary=B", body: malformed},
			false, http.StatusBadRequest},
		{"a multipart form without a boundary", reqCase{contentType: "multipart/form-data",
			body: "x"}, false, http.StatusBadRequest},
		{"a body of a type that carries no token", reqCase{contentType: "text/plain", body: "hello"},
			false, http.StatusBadRequest},
		{"a compressed body", reqCase{contentType: "application/x-www-form-urlencoded",
			header: map[string]string{"Content-Encoding": "gzip"}, body: "x"}, false, http.StatusBadRequest},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v := &stub{}
			var asked atomic.Int64
			var decided []trustcaptcha.Decision
			var s seen
			h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
				Verifier: v, Logger: quietLogger(), MaxBodyBytes: 1 << 10,
				Required:   func(*http.Request) bool { asked.Add(1); return false },
				OnDecision: func(_ *http.Request, d trustcaptcha.Decision) { decided = append(decided, d) },
			})(probe(&s))
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, c.req.request())
			require.Equal(t, c.want, rec.Code, rec.Body.String())
			assert.Equal(t, map[bool]int64{true: 1, false: 0}[c.asked], asked.Load(), "Required asked")
			require.Len(t, decided, 1)
			if !c.asked {
				return
			}
			assert.Zero(t, v.calls.Load(), "no API call")
			d := decided[0]
			assert.True(t, d.Admitted)
			assert.Equal(t, "not-required", d.Reason)
			assert.False(t, d.Failover || d.ReportOnly)
			assert.NoError(t, d.Err)
			assert.Nil(t, d.Result)
			assert.Equal(t, -1.0, d.Score)
			assert.Zero(t, d.Status)
			assert.Equal(t, "not-required", s.decision.Reason, "the handler reads it")
			assert.False(t, s.hasResult, "ResultFromContext")
			assert.False(t, s.failover, "AdmittedByFailover")
		})
	}
	t.Run("asked true, the missing token is rejected", func(t *testing.T) {
		t.Parallel()
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: &stub{}, Logger: quietLogger(),
			Required: func(*http.Request) bool { return true }})(probe(&seen{}))
		rec := send(h, "")
		assert.Equal(t, http.StatusBadRequest, rec.Code)
		assert.Contains(t, rec.Body.String(), "token-missing")
	})
	t.Run("Skip comes first", func(t *testing.T) {
		t.Parallel()
		var asked atomic.Bool
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: &stub{}, Logger: quietLogger(),
			Skip:     trustcaptcha.SkipSafeMethods,
			Required: func(*http.Request) bool { asked.Store(true); return false }})(probe(&seen{}))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		assert.Equal(t, http.StatusNoContent, rec.Code)
		assert.False(t, asked.Load())
	})
	t.Run("an unverified admission claims nothing", func(t *testing.T) {
		t.Parallel()
		store := &countingStore{MemoryStore: trustcaptcha.NewMemoryStore()}
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: &stub{}, Logger: quietLogger(),
			ReplayStore: store, Required: func(*http.Request) bool { return false }})(probe(&seen{}))
		for range 3 {
			assert.Equal(t, http.StatusNoContent, send(h, "").Code)
		}
		assert.Empty(t, store.claimed(), "no claim")
	})
}

// countingStore is a MemoryStore that records the keys and ids it was
// given.
type countingStore struct {
	*trustcaptcha.MemoryStore
	mu   sync.Mutex
	keys []string
	ids  []string
}

func (s *countingStore) Claim(ctx context.Context, id string, expires time.Time) (bool, error) {
	s.mu.Lock()
	s.ids = append(s.ids, id)
	s.mu.Unlock()
	return s.MemoryStore.Claim(ctx, id, expires)
}

func (s *countingStore) Increment(ctx context.Context, key string, window time.Duration) (int64, error) {
	s.record(key)
	return s.MemoryStore.Increment(ctx, key, window)
}

func (s *countingStore) Count(ctx context.Context, key string, window time.Duration) (int64, error) {
	s.record(key)
	return s.MemoryStore.Count(ctx, key, window)
}

func (s *countingStore) record(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = append(s.keys, key)
}

func (s *countingStore) claimed() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...)
}

func (s *countingStore) counted() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.keys...)
}

// from returns a POST from the client at addr, the connection's remote
// address (host:port), with X-Forwarded-For headers xff.
func from(addr string, xff ...string) *http.Request {
	r := httptest.NewRequest(http.MethodPost, "/login", nil)
	r.RemoteAddr = addr
	for _, x := range xff {
		r.Header.Add("X-Forwarded-For", x)
	}
	return r
}

// free calls su.Required for n requests of r and returns how many needed no
// CAPTCHA.
func free(su *trustcaptcha.StepUp, n int, r func() *http.Request) int {
	ok := 0
	for range n {
		if !su.Required(r()) {
			ok++
		}
	}
	return ok
}

func TestStepUpCountsEachClient(t *testing.T) {
	t.Parallel()
	su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 3, Per: time.Minute})
	ada := func() *http.Request { return from("192.0.2.1:1000") }
	assert.False(t, su.ShowWidget(ada()), "no widget at first")
	assert.Equal(t, 3, free(su, 10, ada), "After requests without the CAPTCHA, then it is required")
	assert.True(t, su.ShowWidget(ada()), "the page shows the widget now")
	assert.Equal(t, 3, free(su, 3, func() *http.Request { return from("192.0.2.2:1000") }),
		"another client has its own count")
}

func TestStepUpShowWidgetCountsNothing(t *testing.T) {
	t.Parallel()
	su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 2, Per: time.Minute, SiteWide: 2})
	r := from("192.0.2.1:1000")
	for range 10 {
		assert.False(t, su.ShowWidget(r))
	}
	assert.False(t, su.Required(r))
	assert.False(t, su.ShowWidget(r), "one of two spent")
	assert.False(t, su.Required(r))
	assert.True(t, su.ShowWidget(r), "both spent: the next would be refused")
	assert.True(t, su.ShowWidget(from("192.0.2.9:1000")), "and the site-wide budget is spent for all")
}

// TestStepUpWindowEdge: windows are fixed, starting at multiples of Per; at
// a window's end the count starts again, so at most 2 x After pass in any
// span of Per.
func TestStepUpWindowEdge(t *testing.T) {
	t.Parallel()
	clock := newFakeClock()
	per := time.Minute
	// Just before a window's end.
	clock.Advance(per - time.Duration(clock.Now().UnixNano()%int64(per)) - time.Second)
	store := trustcaptcha.NewMemoryStoreWithClock(clock.Now, 1<<10)
	su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 3, Per: per, Counter: store})
	r := func() *http.Request { return from("192.0.2.1:1000") }
	assert.Equal(t, 3, free(su, 5, r), "the end of one window")
	clock.Advance(time.Second) // the next window starts
	assert.False(t, su.ShowWidget(r()), "a new window")
	assert.Equal(t, 3, free(su, 5, r), "the start of the next: 6 in two seconds, 2 x After")
	clock.Advance(per - time.Nanosecond)
	assert.True(t, su.Required(r()), "still the same window")
	clock.Advance(time.Nanosecond)
	assert.False(t, su.Required(r()), "the one after")
}

func TestStepUpGroupsAddresses(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name        string
		first, same string
		other       string
	}{
		{"IPv6 by its /64", "[2001:db8:1:2::1]:1000", "[2001:db8:1:2:ffff:ffff:ffff:ffff]:2000",
			"[2001:db8:1:3::1]:1000"},
		{"IPv4 by its address", "192.0.2.1:1000", "192.0.2.1:2000", "192.0.2.2:1000"},
		{"IPv4-mapped IPv6 as IPv4", "[::ffff:192.0.2.1]:1000", "192.0.2.1:2000", "[::ffff:192.0.2.2]:1000"},
		{"a zone ignored", "[fe80::1%eth0]:1000", "[fe80::2%eth1]:1000", "[fe80:0:0:1::1]:1000"},
		{"unreadable addresses share one key", "nonsense", "@", "192.0.2.1:1000"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 2, Per: time.Minute})
			assert.False(t, su.Required(from(c.first)))
			assert.False(t, su.Required(from(c.same)))
			assert.True(t, su.Required(from(c.first)), "the group's third")
			assert.True(t, su.Required(from(c.same)))
			assert.False(t, su.Required(from(c.other)), "another group")
		})
	}
}

// TestStepUpTrustsOnlyItsProxies: a client that sends its own
// X-Forwarded-For from an untrusted address is counted by its address; behind
// a trusted proxy, the client the proxy names is counted.
func TestStepUpTrustsOnlyItsProxies(t *testing.T) {
	t.Parallel()
	su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 2, Per: time.Minute,
		TrustedProxies: []string{"10.0.0.0/8"}})
	i := 0
	spoofed := func() *http.Request { i++; return from("192.0.2.1:1000", fmt.Sprintf("198.51.100.%d", i)) }
	assert.Equal(t, 2, free(su, 10, spoofed), "a new X-Forwarded-For each time changes nothing")

	viaProxy := func(client string) func() *http.Request {
		return func() *http.Request { return from("10.1.2.3:1000", "203.0.113.9, "+client) }
	}
	assert.Equal(t, 2, free(su, 5, viaProxy("198.51.100.1")), "counted as the client the proxy names")
	assert.Equal(t, 2, free(su, 5, viaProxy("198.51.100.2")), "another client behind the same proxy")
}

func TestStepUpSiteWide(t *testing.T) {
	t.Parallel()
	su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 3, Per: time.Minute, SiteWide: 10})
	// One address spends its own count; what its count refuses is not
	// charged to the site.
	assert.Equal(t, 3, free(su, 50, func() *http.Request { return from("192.0.2.1:1000") }))
	passed := 0
	for i := range 20 { // a distributed attack: each address once
		if !su.Required(from(fmt.Sprintf("198.51.100.%d:1000", i))) {
			passed++
		}
	}
	assert.Equal(t, 7, passed, "10 for the whole site, 3 of them already spent")
	assert.True(t, su.Required(from("203.0.113.1:1000")), "a newcomer is asked too")
	assert.True(t, su.ShowWidget(from("203.0.113.2:1000")))
}

func TestStepUpRequiredFor(t *testing.T) {
	t.Parallel()
	su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 2, Per: time.Minute})
	for i, subject := range []string{"ada@example.com", " Ada@Example.COM ", "ADA@example.com"} {
		// From a new address each time: the account is counted, not the address.
		got := su.RequiredFor(from(fmt.Sprintf("198.51.100.%d:1000", i)), subject)
		assert.Equal(t, i >= 2, got, "try %d of %q", i+1, subject)
	}
	assert.False(t, su.RequiredFor(from("198.51.100.9:1000"), "grace@example.com"), "another account")
	assert.False(t, su.ShowWidget(from("198.51.100.0:1000")), "the address was not counted")
	assert.False(t, su.Required(from("198.51.100.0:1000")))
	for range 5 {
		assert.False(t, su.RequiredFor(from("198.51.100.9:1000"), "  "), "an empty subject counts nothing")
	}
}

// failingCounter fails every call (see failover_test.go).
func TestStepUpFailsClosed(t *testing.T) {
	t.Parallel()
	su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 5, Per: time.Minute, SiteWide: 5,
		Counter: failingCounter{}})
	r := from("192.0.2.1:1000")
	assert.True(t, su.Required(r))
	assert.True(t, su.ShowWidget(r))
	assert.True(t, su.RequiredFor(r, "ada"))

	// At a MemoryStore's bound on windows, a key new to its window is an
	// error: the CAPTCHA is asked for.
	full := trustcaptcha.NewMemoryStoreWithBounds(time.Now, 16, 2)
	su = trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 5, Per: time.Minute, Counter: full})
	assert.False(t, su.Required(from("192.0.2.1:1000")))
	assert.False(t, su.Required(from("192.0.2.2:1000")))
	assert.True(t, su.Required(from("192.0.2.3:1000")), "no window left for a third client")
}

// TestStepUpKeysHoldNoNames: the Counter sees hashes, never an address or an
// account name, under keys of the documented form.
func TestStepUpKeysHoldNoNames(t *testing.T) {
	t.Parallel()
	store := &countingStore{MemoryStore: trustcaptcha.NewMemoryStore()}
	su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 1, Per: time.Minute, SiteWide: 100,
		Name: "login", Counter: store})
	r := from("[2001:db8::7]:1000")
	su.Required(r)
	su.ShowWidget(from("192.0.2.77:1000"))
	su.RequiredFor(r, "Ada.Lovelace@example.com")
	keys := store.counted()
	require.NotEmpty(t, keys)
	form := regexp.MustCompile(`^stepup:login:((addr|subject):[0-9a-f]{64}|site)$`)
	kinds := map[string]bool{}
	for _, k := range keys {
		assert.Regexp(t, form, k)
		for _, secret := range []string{"2001", "db8", "192.0.2", "ada", "lovelace", "example"} {
			assert.NotContains(t, strings.ToLower(k), secret)
		}
		kinds[strings.SplitN(strings.TrimPrefix(k, "stepup:login:"), ":", 2)[0]] = true
	}
	assert.Equal(t, map[string]bool{"addr": true, "subject": true, "site": true}, kinds)
}

// TestStepUpNamesKeepCountsApart: two StepUps on one Counter count apart
// when their Names differ, and together when they agree.
func TestStepUpNamesKeepCountsApart(t *testing.T) {
	t.Parallel()
	store := trustcaptcha.NewMemoryStore()
	login := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 2, Per: time.Minute, Name: "login",
		Counter: store})
	reset := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 2, Per: time.Minute, Name: "reset",
		Counter: store})
	fleetLogin := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 2, Per: time.Minute,
		Name: "login", Counter: store})
	r := func() *http.Request { return from("192.0.2.1:1000") }
	assert.Equal(t, 2, free(login, 5, r))
	assert.Equal(t, 2, free(reset, 5, r), "another name")
	assert.Equal(t, 0, free(fleetLogin, 5, r), "the same name on the same Counter: one count")
}

// TestStepUpBurst: 1,000 requests without a token from one client, in
// parallel, through the middleware: exactly After reach the handler, the
// rest get 400 token-missing. Counting and deciding are one step.
func TestStepUpBurst(t *testing.T) {
	t.Parallel()
	const after, burst = 5, 1000
	su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: after, Per: time.Hour})
	var reached atomic.Int64
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: &stub{}, Logger: quietLogger(),
		Required: su.Required})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reached.Add(1)
		w.WriteHeader(http.StatusUnauthorized) // a wrong password
	}))
	var wg sync.WaitGroup
	var rejected atomic.Int64
	start := make(chan struct{})
	for range burst {
		wg.Go(func() {
			<-start
			r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("user=ada&password=guess"))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			r.RemoteAddr = "192.0.2.1:1000"
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code == http.StatusBadRequest && bytes.Contains(rec.Body.Bytes(), []byte("token-missing")) {
				rejected.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, int64(after), reached.Load(), "exactly After passed")
	assert.Equal(t, int64(burst-after), rejected.Load())
}

func TestNewStepUpPanicsOnWiringMistakes(t *testing.T) {
	t.Parallel()
	var nilStore *trustcaptcha.MemoryStore
	for field, o := range map[string]trustcaptcha.StepUpOptions{
		"StepUpOptions.After":          {After: 0, Per: time.Minute},
		"StepUpOptions.Per":            {After: 1},
		"StepUpOptions.SiteWide":       {After: 1, Per: time.Minute, SiteWide: -1},
		"StepUpOptions.Counter":        {After: 1, Per: time.Minute, Counter: nilStore},
		"StepUpOptions.TrustedProxies": {After: 1, Per: time.Minute, TrustedProxies: []string{"proxy"}},
	} {
		func() {
			defer func() {
				p := recover()
				require.NotNil(t, p, field)
				assert.Contains(t, fmt.Sprint(p), field)
			}()
			trustcaptcha.NewStepUp(o)
		}()
	}
}

func TestMemoryStoreCount(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	clock := newFakeClock()
	s := trustcaptcha.NewMemoryStoreWithClock(clock.Now, 16)
	n, err := s.Count(ctx, "k", time.Minute)
	require.NoError(t, err)
	assert.Zero(t, n, "a key never counted")
	for range 3 {
		_, err = s.Increment(ctx, "k", time.Minute)
		require.NoError(t, err)
	}
	n, err = s.Count(ctx, "k", time.Minute)
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
	n, _ = s.Count(ctx, "k", time.Hour)
	assert.Zero(t, n, "another window length is another count")
	n, _ = s.Count(ctx, "k", time.Minute)
	assert.Equal(t, int64(3), n, "Count adds nothing")
	clock.Advance(time.Minute)
	n, _ = s.Count(ctx, "k", time.Minute)
	assert.Zero(t, n, "the window ended")
	_, err = s.Count(ctx, "k", 0)
	assert.Error(t, err)
	assert.False(t, errors.Is(err, trustcaptcha.ErrTokenMissing))
}
