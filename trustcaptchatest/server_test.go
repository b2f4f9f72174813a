package trustcaptchatest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

// post sends JSON as the widget does and decodes the answer.
func post(t *testing.T, url string, body any, out any) int {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", "http://shop.localhost:8080")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	if out != nil {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(out))
	}
	return resp.StatusCode
}

type challenge struct {
	Challenge struct {
		VerificationID string `json:"verificationId"`
		Difficulty     int    `json:"difficulty"`
		Tasks          []struct {
			Number int    `json:"number"`
			Input  string `json:"input"`
		} `json:"tasks"`
	} `json:"challenge"`
}

type finished struct {
	Finished struct {
		VerificationToken string `json:"verificationToken"`
		ExpiresInMs       int    `json:"expiresInMs"`
	} `json:"finished"`
}

// playWidget runs the widget's protocol against the fake and returns the token.
func playWidget(t *testing.T, api *trustcaptchatest.Server, solve bool) (int, string) {
	t.Helper()
	var ch challenge
	code := post(
		t,
		api.URL+"/v2/verifications",
		map[string]any{"siteKey": api.SiteKey(), "widget": map[string]any{}},
		&ch,
	)
	require.Equal(t, http.StatusOK, code)
	require.NotEmpty(t, ch.Challenge.Tasks)
	type nonce struct {
		Number int    `json:"number"`
		Nonce  string `json:"nonce"`
	}
	var nonces []nonce
	for _, task := range ch.Challenge.Tasks {
		n := "tcn0"
		if solve {
			n = trustcaptchatest.SolveProofOfWork(task.Input, ch.Challenge.Difficulty)
		} else {
			for k := 0; trustcaptchatest.ProofOfWorkValid(task.Input, n, ch.Challenge.Difficulty); k++ {
				n = "wrong" + strings.Repeat("x", k)
			}
		}
		nonces = append(nonces, nonce{task.Number, n})
	}
	var fin finished
	code = post(t, api.URL+"/v2/verifications/"+ch.Challenge.VerificationID+"/challenges", map[string]any{
		"startSolvingTimestamp": time.Now().Format(time.RFC3339), "solvedTimestamp": time.Now().Format(time.RFC3339),
		"tasks": nonces, "honeypotFields": []any{}, "userEvents": []any{},
	}, &fin)
	return code, fin.Finished.VerificationToken
}

func TestWidgetFlowProducesATokenTheClientVerifies(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer(trustcaptchatest.WithDifficulty(10))
	t.Cleanup(api.Close)
	code, tok := playWidget(t, api, true)
	require.Equal(t, http.StatusCreated, code)
	res, err := api.Client().Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.True(t, res.VerificationPassed)
	assert.Equal(t, 0.1, res.Score)
	assert.Equal(t, "http://shop.localhost:8080", res.Origin)
	assert.Equal(t, "127.0.0.1", res.IPAddress)
	assert.False(t, res.VerificationFinishedAt.IsZero())
}

func TestWidgetFlowChecksTheProofOfWork(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer(trustcaptchatest.WithDifficulty(12))
	t.Cleanup(api.Close)
	code, _ := playWidget(t, api, false)
	assert.Equal(t, http.StatusConflict, code)
}

func TestWidgetEndpointsRefuseUnknownSiteKeysAndVerifications(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	assert.Equal(
		t,
		http.StatusNotFound,
		post(t, api.URL+"/v2/verifications", map[string]any{"siteKey": "00000000-0000-0000-0000-00000000dead"}, nil),
	)
	assert.Equal(
		t,
		http.StatusNotFound,
		post(
			t,
			api.URL+"/v2/verifications/"+trustcaptchatest.NotFoundVerificationID+"/challenges",
			map[string]any{"tasks": []any{}},
			nil,
		),
	)
}

func TestWidgetResultIsConfigurable(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer(trustcaptchatest.WithDifficulty(0))
	t.Cleanup(api.Close)
	api.SetWidgetResult(trustcaptcha.Result{VerificationPassed: true, Score: 0.8, GatewayFailoverActive: true})
	_, tok := playWidget(t, api, true)
	res, err := api.Client().Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, 0.8, res.Score)
	assert.True(t, res.GatewayFailoverActive)
}

func TestCORSPreflight(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	req, _ := http.NewRequest(http.MethodOptions, api.URL+"/v2/verifications", nil)
	req.Header.Set("Origin", "http://page.localhost")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Equal(t, "http://page.localhost", resp.Header.Get("Access-Control-Allow-Origin"))
	assert.Contains(t, resp.Header.Get("Access-Control-Allow-Methods"), "POST")
	assert.Contains(t, resp.Header.Get("Access-Control-Allow-Headers"), "Content-Type")
}

func TestFakeRecordsRequestsAndChecksTheKey(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer(trustcaptchatest.WithAPIKey("k1"))
	t.Cleanup(api.Close)
	tok := api.Human()
	_, err := api.Client().Verify(context.Background(), tok)
	require.NoError(t, err)
	reqs := api.Requests()
	require.Len(t, reqs, 1)
	assert.Equal(t, "Bearer k1", reqs[0].Header.Get("Authorization"))
	assert.Equal(t, 1, api.Fetches(tok))

	resp, err := http.Get(api.URL + "/v2/verifications/" + trustcaptchatest.PassingVerificationID + "/results")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

func TestFakeDelayGarbageAndDown(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	c := api.Client(trustcaptcha.WithBreaker(0, 0))
	ctx := context.Background()

	slow := api.Human()
	api.Delay(slow, time.Second)
	_, err := api.Client(trustcaptcha.WithTimeout(200*time.Millisecond)).Verify(ctx, slow)
	assert.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)

	garbage := api.Human()
	api.Garbage(garbage, []byte("{not json"))
	_, err = c.Verify(ctx, garbage)
	assert.ErrorIs(t, err, trustcaptcha.ErrUnexpectedResponse)

	api.Down(http.StatusBadGateway)
	_, err = c.Verify(ctx, api.Human())
	assert.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
	api.Down(0)
	_, err = c.Verify(ctx, api.Bot())
	assert.NoError(t, err)
}

func TestCloseEndsHangingRequests(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	tok := api.Human()
	api.Hang(tok)
	sent := make(chan struct{})
	var once sync.Once
	tr := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		once.Do(func() { close(sent) })
		return http.DefaultTransport.RoundTrip(r)
	})
	done := make(chan error, 1)
	go func() {
		c := api.Client(trustcaptcha.WithTimeout(time.Minute), trustcaptcha.WithHTTPClient(&http.Client{Transport: tr}))
		_, err := c.Verify(context.Background(), tok)
		done <- err
	}()
	<-sent // on its way: wherever it is now, Close must end it
	api.Close()
	select {
	case err := <-done:
		assert.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
	case <-time.After(10 * time.Second):
		t.Fatal("Close left a hanging request behind")
	}
}

func TestPanicsOnABadToken(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	assert.Panics(t, func() { api.ForceStatus("nope", 500) })
}

// The request helpers: every kind ends as its name says, through the real
// middleware and Client, and every call carries a fresh token.
func TestRequestHelpers(t *testing.T) {
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	var got url.Values
	var body map[string]any
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			_ = json.NewDecoder(r.Body).Decode(&body)
		} else {
			_ = r.ParseForm()
			got = r.PostForm
		}
		w.WriteHeader(http.StatusNoContent)
	})
	closed := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client()})(handler)
	open := trustcaptcha.RequireCaptcha(
		trustcaptcha.Options{Verifier: api.Client(), Failover: trustcaptcha.FailOpen},
	)(
		handler,
	)
	for _, tc := range []struct {
		kind   trustcaptchatest.Kind
		h      http.Handler
		status int
		reason string
	}{
		{trustcaptchatest.Human, closed, http.StatusNoContent, ""},
		{trustcaptchatest.Bot, closed, http.StatusBadRequest, "score-too-high"},
		{trustcaptchatest.Failed, closed, http.StatusBadRequest, "verification-failed"},
		{trustcaptchatest.Unreachable, closed, http.StatusBadRequest, "captcha-unavailable"},
		{trustcaptchatest.Unreachable, open, http.StatusNoContent, ""},
		{trustcaptchatest.ClientFailover, open, http.StatusBadRequest, "client-failover-unconfirmed"},
	} {
		for _, build := range []func() *http.Request{
			func() *http.Request { return api.NewFormRequest("/contact", tc.kind, url.Values{"name": {"Ada"}}) },
			func() *http.Request {
				return api.NewJSONRequest("/api/signup", tc.kind, map[string]any{"email": "ada@example.com"})
			},
		} {
			for range 2 { // a fresh token each time: single use admits both humans
				rec := httptest.NewRecorder()
				r := build()
				tc.h.ServeHTTP(rec, r)
				assert.Equal(t, tc.status, rec.Code, "%v %s: %s", tc.kind, r.Header.Get("Content-Type"), rec.Body)
				if tc.reason != "" {
					assert.Contains(t, rec.Body.String(), tc.reason)
				}
			}
		}
	}
	assert.Equal(t, "Ada", got.Get("name"), "the form's fields arrive")
	assert.Equal(t, "ada@example.com", body["email"], "the JSON members arrive")
	assert.NotEqual(t, api.NewToken(trustcaptchatest.Human), api.NewToken(trustcaptchatest.Human))
	assert.Equal(t, "client-failover", trustcaptchatest.ClientFailover.String())
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// rawResult asks the fake for a result as another language's SDK does.
func rawResult(t *testing.T, api *trustcaptchatest.Server, id, key string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, api.URL+"/v2/verifications/"+id+"/results", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	if resp.StatusCode == http.StatusOK {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	}
	return resp.StatusCode, body
}

func TestReservedIDsAnswerAsTheSDKSuitesExpect(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	sdkKey := "ak_" + strings.Repeat("x", 49) // the form of the SDKs' test key
	cases := []struct {
		id   string
		want int
	}{
		{trustcaptchatest.PassingVerificationID, http.StatusOK},
		{trustcaptchatest.NotFoundVerificationID, http.StatusNotFound},
		{trustcaptchatest.NotFinishedVerificationID, http.StatusLocked},
		{trustcaptchatest.ExpiredVerificationID, http.StatusGone},
		{trustcaptchatest.RetrievalLimitVerificationID, http.StatusTooManyRequests},
	}
	for _, key := range []string{api.APIKey(), sdkKey} {
		for _, tc := range cases {
			code, body := rawResult(t, api, tc.id, key)
			assert.Equal(t, tc.want, code, "%s with key %.3s…", tc.id, key)
			if code == http.StatusOK {
				assert.Equal(t, tc.id, body["verificationId"])
			}
		}
	}
	for _, key := range []string{"invalid-key", "ak_", "AK_xxx"} {
		code, _ := rawResult(t, api, trustcaptchatest.PassingVerificationID, key)
		assert.Equal(t, http.StatusForbidden, code, "key %q", key)
	}
	tok := api.Human()
	parsed, err := trustcaptcha.ParseToken(tok)
	require.NoError(t, err)
	code, _ := rawResult(t, api, parsed.VerificationID, sdkKey)
	assert.Equal(t, http.StatusForbidden, code, "an ak_ key opens the reserved IDs only")
}

func TestATokenWithUnknownMembersVerifies(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	// The token of the SDKs' suites: ID …00 beside members nobody knows.
	tok := "eyJ2ZXJpZmljYXRpb25JZCI6IjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMCIsInVua25vd25GaWVsZCI6ImZvbyIsImFub3RoZXJKdW5rIjo0MiwibmVzdGVkIjp7IngiOjF9fQ=="
	res, err := api.Client().Verify(context.Background(), tok)
	require.NoError(t, err)
	assert.Equal(t, trustcaptchatest.PassingVerificationID, res.VerificationID)
	assert.True(t, res.VerificationPassed)
}

func TestEveryResultHasAUUIDCaptchaID(t *testing.T) {
	t.Parallel()
	isUUID := func(s string) bool {
		_, err := trustcaptcha.ParseToken(trustcaptchatest.Token(s))
		return err == nil
	}
	for name, opts := range map[string][]trustcaptchatest.Option{
		"default site key":    nil,
		"site key not a UUID": {trustcaptchatest.WithSiteKey("my-site")},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			api := trustcaptchatest.NewServer(append(opts, trustcaptchatest.WithDifficulty(4))...)
			t.Cleanup(api.Close)
			_, widgetTok := playWidget(t, api, true)
			for _, tok := range []string{api.Human(), api.Bot(), widgetTok, trustcaptchatest.Token(trustcaptchatest.PassingVerificationID)} {
				res, err := api.Client().Verify(context.Background(), tok)
				require.NoError(t, err)
				assert.True(t, isUUID(res.CaptchaID), "captchaId %q", res.CaptchaID)
			}
		})
	}
}

// TestServerForgetsTheOldestPastItsBound: a long-running fake (the command
// in a team's test environment) holds at most MaxVerifications; the oldest
// is forgotten first, the SDKs' fixed IDs never.
func TestServerForgetsTheOldestPastItsBound(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	c := api.Client()
	first := api.Human()
	for range trustcaptchatest.MaxVerifications - 1 {
		api.Human()
	}
	_, err := c.Verify(context.Background(), first)
	require.NoError(t, err, "at the bound, every verification is remembered")
	last := api.Human()
	_, err = c.Verify(context.Background(), first)
	assert.ErrorIs(t, err, trustcaptcha.ErrVerificationNotFound, "past it, the oldest is forgotten")
	_, err = c.Verify(context.Background(), last)
	assert.NoError(t, err)
	_, err = c.Verify(context.Background(), trustcaptchatest.Token(trustcaptchatest.PassingVerificationID))
	assert.NoError(t, err, "the fixed IDs stay")
}

// TestServerOnAListenerWithALog: WithListener serves where the caller
// listens; WithLog writes one line per request, without its headers.
func TestServerOnAListenerWithALog(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var log syncBuffer
	api := trustcaptchatest.NewServer(trustcaptchatest.WithListener(ln), trustcaptchatest.WithLog(&log))
	assert.Equal(t, "http://"+ln.Addr().String(), api.URL)
	tok := api.Human()
	res, err := api.Client().Verify(context.Background(), tok)
	require.NoError(t, err)
	api.Close() // the log line is written when the answer is: after Close, it is there
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	require.Len(t, lines, 1)
	assert.Regexp(t, `^\d\d:\d\d:\d\d\.\d{3} GET /v2/verifications/`+res.VerificationID+`/results 200 \S+$`, lines[0])
	assert.NotContains(t, log.String(), api.APIKey())
}

// syncBuffer is a bytes.Buffer safe for concurrent use.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestControlEndpointsRefuseForeignPages: a web page on another origin (a
// form post, a fetch after a preflight, a DNS-rebound page) cannot steer the
// fake: 403 or 415, and nothing changes; curl (no Origin) and the
// developer's own loopback pages can. The widget endpoints keep answering
// any origin.
func TestControlEndpointsRefuseForeignPages(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	tok := api.Human()
	verifies := func() bool {
		_, err := api.Client(trustcaptcha.WithBreaker(0, 0)).Verify(context.Background(), tok)
		return err == nil
	}
	send := func(method, path, origin, contentType, body string) *http.Response {
		t.Helper()
		req, err := http.NewRequest(method, api.URL+path, strings.NewReader(body))
		require.NoError(t, err)
		if origin != "" {
			req.Header.Set("Origin", origin)
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if method == http.MethodOptions {
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "content-type")
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	const down = `{"status":503}`
	for _, tc := range []struct {
		name, origin, contentType, body string
		want                            int
	}{
		{"a form post from another site", "https://evil.example", "text/plain", down, http.StatusForbidden},
		{"a JSON fetch from another site", "https://evil.example", "application/json", down, http.StatusForbidden},
		{"a DNS-rebound page", "http://rebind.evil.example:8787", "application/json", down, http.StatusForbidden},
		{"a sandboxed page", "null", "application/json", down, http.StatusForbidden},
		{"a look-alike host", "http://127.0.0.1.evil.example", "application/json", down, http.StatusForbidden},
		{"an https loopback origin", "https://localhost:3000", "application/json", down, http.StatusForbidden},
		{"a text/plain body without an Origin", "", "text/plain", down, http.StatusUnsupportedMediaType},
		{"a urlencoded body (curl -d without -H)", "", "application/x-www-form-urlencoded", down,
			http.StatusUnsupportedMediaType},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := send(http.MethodPost, "/_fake/down", tc.origin, tc.contentType, tc.body)
			assert.Equal(t, tc.want, resp.StatusCode)
			assert.True(t, verifies(), "the API is not down")
			if tc.origin != "" {
				pre := send(http.MethodOptions, "/_fake/down", tc.origin, "", "")
				assert.Equal(t, http.StatusForbidden, pre.StatusCode, "no preflight is granted")
				assert.Empty(t, pre.Header.Get("Access-Control-Allow-Origin"))
			}
		})
	}
	t.Run("a token cannot be minted from another site", func(t *testing.T) {
		resp := send(http.MethodPost, "/_fake/tokens", "https://evil.example", "application/json", `{"kind":"human"}`)
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	})
	t.Run("curl and the developer's own pages steer it", func(t *testing.T) {
		for _, origin := range []string{"", "http://localhost:5173", "http://127.0.0.1:8080", "http://[::1]:3000"} {
			if origin != "" {
				pre := send(http.MethodOptions, "/_fake/down", origin, "", "")
				assert.Equal(t, http.StatusNoContent, pre.StatusCode, origin)
				assert.Equal(t, origin, pre.Header.Get("Access-Control-Allow-Origin"))
			}
			assert.Equal(t, http.StatusNoContent, send(http.MethodPost, "/_fake/down", origin, "application/json",
				down).StatusCode, origin)
			assert.False(t, verifies(), "down")
			assert.Equal(t, http.StatusNoContent, send(http.MethodPost, "/_fake/up", origin, "", "").StatusCode)
			assert.True(t, verifies(), "up")
		}
	})
	t.Run("the widget endpoints answer any origin", func(t *testing.T) {
		pre := send(http.MethodOptions, "/v2/verifications", "https://shop.example", "", "")
		assert.Equal(t, http.StatusNoContent, pre.StatusCode)
		assert.Equal(t, "https://shop.example", pre.Header.Get("Access-Control-Allow-Origin"))
	})
}

// TestLogLineIsOneLinePerRequest: whatever a request's path holds (an
// escaped CR or LF among it), its log line is one line, with the path as it
// was sent and the query, which decides a client-failover answer.
func TestLogLineIsOneLinePerRequest(t *testing.T) {
	t.Parallel()
	var log syncBuffer
	api := trustcaptchatest.NewServer(trustcaptchatest.WithLog(&log))
	forged := "/x%0D%0A12:00:00.000%20GET%20/v2/verifications/" + trustcaptchatest.PassingVerificationID +
		"/results%20200%201ms%E2%80%A8"
	resp, err := http.Get(api.URL + forged)
	require.NoError(t, err)
	resp.Body.Close()
	_, err = api.Client().Verify(context.Background(), trustcaptchatest.ClientFailoverToken())
	require.ErrorIs(t, err, trustcaptcha.ErrClientReportedFailover)
	api.Close() // every line is written
	lines := strings.Split(strings.TrimSpace(log.String()), "\n")
	require.Len(t, lines, 2, log.String())
	assert.Regexp(t, `^\d\d:\d\d:\d\d\.\d{3} GET `+regexp.QuoteMeta(forged)+` 404 \S+$`, lines[0])
	assert.Regexp(t, `^\d\d:\d\d:\d\d\.\d{3} GET /v2/verifications/[0-9a-f-]{36}/results\?clientFailover=true 412 \S+$`,
		lines[1])
}

// TestRequestLogIsBoundedInBytes: requests with large headers do not grow
// the request log past its byte bound; the newest requests stay.
func TestRequestLogIsBoundedInBytes(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	big := strings.Repeat("x", 512<<10)
	for i := range 200 { // 100 MiB of headers in all
		req, err := http.NewRequest(http.MethodGet, api.URL+"/v2/verifications/"+trustcaptchatest.PassingVerificationID+
			"/results", nil)
		require.NoError(t, err)
		req.Header.Set("X-Padding", big)
		req.Header.Set("X-Seq", strconv.Itoa(i))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
	}
	reqs := api.Requests()
	held := 0
	for _, r := range reqs {
		held += len(r.Header.Get("X-Padding"))
	}
	assert.LessOrEqual(t, held, 32<<20, "the log holds at most 32 MiB")
	assert.GreaterOrEqual(t, len(reqs), 16, "at least half the bound stays")
	assert.Equal(t, "199", reqs[len(reqs)-1].Header.Get("X-Seq"), "the newest request stays")
}
