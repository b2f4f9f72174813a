package main

import (
	"context"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha/internal/redistest"
)

// The example without a browser: the demo endpoints, the form and the JSON
// route, under each failover setting.
func TestExampleDemoMode(t *testing.T) {
	for _, tc := range []struct {
		failover   string
		outageCode int
	}{{"closed", 400}, {"open", 200}, {"limited", 200}, {"trust-client", 200}} {
		t.Run(tc.failover, func(t *testing.T) {
			srv := demoServer(t, tc.failover)
			token := func(as string) string { return demoToken(t, srv.URL, as) }
			postForm := func(tok string) (int, string) { return postForm(t, srv.URL, tok) }

			resp, err := http.Get(srv.URL + "/contact")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode)

			code, body := postForm(token("human"))
			assert.Equal(t, 200, code)
			assert.Contains(t, body, "Thanks, Ada!")
			code, body = postForm(token("bot"))
			assert.Equal(t, 400, code)
			assert.Contains(t, body, "score-too-high")
			code, body = postForm(token("outage"))
			assert.Equal(t, tc.outageCode, code)
			if code == 400 {
				assert.Contains(t, body, "captcha-unavailable")
			} else {
				assert.Contains(t, body, "accepted on failover")
			}

			resp, err = http.Post(
				srv.URL+"/api/subscribe",
				"application/json",
				strings.NewReader(`{"email":"ada@example.com","tc-verification-token":"`+token("human")+`"}`),
			)
			require.NoError(t, err)
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			assert.Equal(t, 200, resp.StatusCode)
			assert.JSONEq(t, `{"subscribed":"ada@example.com","admittedByFailover":false,"score":0.1}`, string(b))
		})
	}
}

func TestExampleRejectsBadSettings(t *testing.T) {
	for _, cfg := range []config{{Failover: "sometimes"}, {Threshold: 2}, {APIKey: "k"}} {
		_, err := newApp(cfg, slog.Default())
		assert.Error(t, err, "%+v", cfg)
	}
}

func TestExampleFlags(t *testing.T) {
	cfg, err := parseConfig(nil)
	require.NoError(t, err)
	assert.Equal(t, "demo", cfg.Widget, "the demo widget unless asked")
	assert.Empty(t, cfg.WidgetDir, "the demo ignores installed widget files")

	_, err = parseConfig([]string{"-widget", "nonsense"})
	assert.ErrorContains(t, err, "want demo or real")
	missing := filepath.Join(t.TempDir(), "no-widget-here")
	_, err = parseConfig([]string{"-widget", "real", "-widget-dir", missing})
	assert.ErrorContains(t, err, missing, "a widget folder without the widget fails at start, naming it")
	var usage strings.Builder
	_, err = parseConfigTo([]string{"-h"}, &usage)
	assert.ErrorIs(t, err, flag.ErrHelp, "-h prints the usage; main exits 0 on it")
	for _, env := range []string{"$ADDR", "$TRUSTCAPTCHA_FAILOVER", "$TRUSTCAPTCHA_WIDGET_DIR", "TRUSTCAPTCHA_API_KEY",
		"TRUSTCAPTCHA_SITE_KEY", "TRUSTCAPTCHA_API_HOST", "REDIS_URL"} {
		assert.Contains(t, usage.String(), env, "-h names every environment variable")
	}

	var out strings.Builder
	err = run([]string{"-addr", "127.0.0.1:-1"}, &out)
	assert.Error(t, err, "a bad address fails at once")
}

// After five outage clicks the breaker opens and a human is rejected too:
// the page says why.
func TestExamplePageExplainsTheOpenBreaker(t *testing.T) {
	srv := demoServer(t, "closed")
	for range 5 {
		_, page := postForm(t, srv.URL, demoToken(t, srv.URL, "outage"))
		assert.Contains(t, page, "could not be reached")
	}
	_, page := postForm(t, srv.URL, demoToken(t, srv.URL, "human"))
	assert.Contains(t, page, "outage breaker")
	assert.Contains(t, page, `<code id="precise">server-unreachable</code>`)
}

// demoServer serves the example in demo mode with the failover setting.
func demoServer(t *testing.T, failover string) *httptest.Server {
	t.Helper()
	a, err := newApp(config{Threshold: 0.5, Failover: failover}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	t.Cleanup(a.Close)
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)
	return srv
}

// demoToken asks the demo widget's endpoint for a token: as human, bot or outage.
func demoToken(t *testing.T, base, as string) string {
	t.Helper()
	resp, err := http.Get(base + "/demo/token?as=" + as)
	require.NoError(t, err)
	defer resp.Body.Close()
	var out struct{ Token string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out.Token
}

// postForm posts the contact form with tok as a browser would and returns
// the status and the page.
func postForm(t *testing.T, base, tok string) (int, string) {
	t.Helper()
	return postPage(t, base+"/contact", url.Values{"name": {"Ada"}, "tc-verification-token": {tok}})
}

// postPage posts form to target as a browser would and returns the status
// and the page.
func postPage(t *testing.T, target string, form url.Values) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// With REDIS_URL the example keeps single-use claims in Redis: the claim is
// a Redis key, and a replay meets it.
func TestExampleWithRedis(t *testing.T) {
	server := redistest.Start(t)
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	a, err := newApp(config{Threshold: 0.5, Failover: "closed", RedisURL: server.URL()}, quiet)
	require.NoError(t, err)
	t.Cleanup(a.Close)
	assert.Contains(t, a.mode, "single-use claims in redis")
	srv := httptest.NewServer(a)
	t.Cleanup(srv.Close)

	tok := demoToken(t, srv.URL, "human")
	code, _ := postForm(t, srv.URL, tok)
	assert.Equal(t, http.StatusOK, code)
	rdb := redis.NewClient(&redis.Options{Addr: server.Addr()})
	t.Cleanup(func() { rdb.Close() })
	keys, err := rdb.Keys(context.Background(), "trustcaptcha:used:*").Result()
	require.NoError(t, err)
	assert.Len(t, keys, 1, "the claim is in Redis")
	code, page := postForm(t, srv.URL, tok)
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, page, "token-reused")

	_, err = newApp(config{Threshold: 0.5, Failover: "closed", RedisURL: "mysql://nope"}, quiet)
	assert.ErrorContains(t, err, "REDIS_URL")
}

// TestExampleMetrics: after a human, a bot and an outage, /metrics shows the
// decisions with their labels, the decision durations and the client's
// gauges, in Prometheus' text format.
func TestExampleMetrics(t *testing.T) {
	srv := demoServer(t, "open")
	for _, as := range []string{"human", "bot", "outage"} {
		postForm(t, srv.URL, demoToken(t, srv.URL, as))
	}
	resp, err := http.Post(srv.URL+"/api/subscribe", "application/json",
		strings.NewReader(`{"email":"ada@example.com","tc-verification-token":"`+demoToken(t, srv.URL, "human")+`"}`))
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	resp, err = http.Get(srv.URL + "/api/subscribe")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	resp, err = http.Get(srv.URL + "/metrics")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, 200, resp.StatusCode)
	scrape := string(b)
	for _, want := range []string{
		`trustcaptcha_decisions_total{http_route="/contact",trustcaptcha_admitted="true",trustcaptcha_failover="false",trustcaptcha_gateway_failover="false",trustcaptcha_reason="passed"} 1`,
		`trustcaptcha_decisions_total{http_route="/contact",trustcaptcha_admitted="false",trustcaptcha_failover="false",trustcaptcha_gateway_failover="false",trustcaptcha_reason="score-too-high"} 1`,
		`trustcaptcha_decisions_total{http_route="/contact",trustcaptcha_admitted="true",trustcaptcha_failover="true",trustcaptcha_reason="server-unreachable"} 1`,
		`trustcaptcha_decision_duration_seconds_count{http_route="/contact",trustcaptcha_admitted="true",trustcaptcha_failover="false",trustcaptcha_gateway_failover="false",trustcaptcha_reason="passed"} 1`,
		`trustcaptcha_decisions_total{http_route="/api/subscribe",trustcaptcha_admitted="true",trustcaptcha_failover="false",trustcaptcha_gateway_failover="false",trustcaptcha_reason="passed"} 1`,
		"trustcaptcha_client_in_flight 0",
		"trustcaptcha_client_breaker_open 0",
	} {
		assert.Contains(t, scrape, want)
	}
	assert.NotContains(t, scrape, `http_route="POST `, "every route labelled one way: its path")
	t.Logf("scrape excerpt:\n%s", grepLines(scrape, "trustcaptcha_"))
}

func grepLines(s, substr string) string {
	var out []string
	for l := range strings.Lines(s) {
		if strings.Contains(l, substr) && !strings.Contains(l, "_bucket") {
			out = append(out, strings.TrimRight(l, "\n"))
		}
	}
	return strings.Join(out, "\n")
}

// The login at /login asks for no CAPTCHA at first; after three wrong
// passwords the page shows the widget and a POST without a token is refused
// (the handler never runs); with a solved CAPTCHA the right password logs
// in. Another account from the same address is still refused without one.
func TestExampleStepUpLogin(t *testing.T) {
	srv := demoServer(t, "closed")
	login := func(user, password, tok string) (int, string) {
		t.Helper()
		form := url.Values{"user": {user}, "password": {password}}
		if tok != "" {
			form.Set("tc-verification-token", tok)
		}
		return postPage(t, srv.URL+"/login", form)
	}
	resp, err := http.Get(srv.URL + "/login")
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, 200, resp.StatusCode)
	assert.NotContains(t, string(b), `id="demo-widget"`, "no widget at first")

	for i := range loginAfter {
		code, body := login(demoUser, "wrong", "")
		assert.Equal(t, http.StatusUnauthorized, code)
		assert.Contains(t, body, "Wrong user name or password.")
		assert.Equal(t, i == loginAfter-1, strings.Contains(body, `id="demo-widget"`),
			"the widget appears once the next try would need it (try %d)", i+1)
	}
	code, body := login(demoUser, demoPassword, "")
	assert.Equal(t, http.StatusBadRequest, code, "the right password, but no CAPTCHA")
	assert.Contains(t, body, "Please solve the CAPTCHA to log in.")
	code, body = login("grace", "anything", "")
	assert.Equal(t, http.StatusBadRequest, code, "the address is counted, whatever the account")
	assert.Contains(t, body, "Please solve the CAPTCHA to log in.")
	code, body = login(demoUser, demoPassword, demoToken(t, srv.URL, "bot"))
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "score-too-high")
	code, body = login(demoUser, demoPassword, demoToken(t, srv.URL, "human"))
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "Welcome, ada!")
}
