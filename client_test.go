package trustcaptcha_test

// The API client (client.go): the protocol it speaks, every answer mapped to
// its sentinel, its bounds (timeouts, in-flight limit, body caps), its
// connection pool under faults, and the key sent to no other host.

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/internal/silentproxy"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const testKey = "secret-key-0123456789"

// tokenFor is the widget's token for a verification ID.
func newHandServer(t *testing.T, h http.HandlerFunc) *handServer {
	t.Helper()
	s := &handServer{}
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.last.Store(r.Clone(context.Background()))
		h(w, r)
	}))
	s.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

func newClient(t *testing.T, host string, opts ...trustcaptcha.ClientOption) *trustcaptcha.Client {
	t.Helper()
	c, err := trustcaptcha.NewClient(
		testKey,
		append([]trustcaptcha.ClientOption{trustcaptcha.WithAPIHost(host)}, opts...)...)
	require.NoError(t, err)
	return c
}

// assertSafeError checks that err hides the key and the token.
func assertSafeError(t *testing.T, err error, token string) {
	t.Helper()
	if err == nil {
		return
	}
	assert.NotContains(t, err.Error(), testKey, "error text leaks the API key")
	assert.NotContains(t, err.Error(), trustcaptchatest.DefaultAPIKey, "error text leaks the API key")
	if token != "" {
		assert.NotContains(t, err.Error(), token, "error text leaks the token")
	}
}

func TestClientMapsEveryStatus(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status int
		want   error
	}{
		{http.StatusForbidden, trustcaptcha.ErrAPIKeyInvalid},
		{http.StatusNotFound, trustcaptcha.ErrVerificationNotFound},
		{http.StatusGone, trustcaptcha.ErrResultExpired},
		{http.StatusPreconditionFailed, trustcaptcha.ErrClientReportedFailover},
		{http.StatusLocked, trustcaptcha.ErrVerificationNotFinished},
		{http.StatusTooManyRequests, trustcaptcha.ErrRetrievalLimitReached},
		{http.StatusInternalServerError, trustcaptcha.ErrServerUnreachable},
		{http.StatusBadGateway, trustcaptcha.ErrServerUnreachable},
		{http.StatusServiceUnavailable, trustcaptcha.ErrServerUnreachable},
		{http.StatusGatewayTimeout, trustcaptcha.ErrServerUnreachable},
		{http.StatusMovedPermanently, trustcaptcha.ErrUnexpectedResponse},
		{http.StatusFound, trustcaptcha.ErrUnexpectedResponse},
		{http.StatusNotModified, trustcaptcha.ErrUnexpectedResponse},
		{http.StatusTemporaryRedirect, trustcaptcha.ErrUnexpectedResponse},
		{http.StatusBadRequest, trustcaptcha.ErrUnexpectedResponse},
		{http.StatusUnauthorized, trustcaptcha.ErrUnexpectedResponse},
		{http.StatusTeapot, trustcaptcha.ErrUnexpectedResponse},
		{http.StatusCreated, trustcaptcha.ErrUnexpectedResponse},
		{http.StatusNoContent, trustcaptcha.ErrUnexpectedResponse},
	}
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	fakeClient := api.Client(trustcaptcha.WithBreaker(0, 0))
	for _, tc := range cases {
		t.Run(fmt.Sprintf("hand-written/%d", tc.status), func(t *testing.T) {
			t.Parallel()
			srv := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(tc.status)
			})
			tok := tokenFor(someID)
			res, err := newClient(t, srv.URL).Verify(context.Background(), tok)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, res)
			assert.Equal(t, int64(1), srv.hits.Load())
			assertSafeError(t, err, tok)
		})
		t.Run(fmt.Sprintf("fake/%d", tc.status), func(t *testing.T) {
			t.Parallel()
			tok := api.Human()
			api.ForceStatus(tok, tc.status)
			res, err := fakeClient.Verify(context.Background(), tok)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, res)
			assertSafeError(t, err, tok)
		})
	}
}

func TestClientStatusesOfTheFakeWithoutForcing(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer(trustcaptchatest.WithRetrievalLimit(1))
	t.Cleanup(api.Close)
	c := api.Client()
	ctx := context.Background()

	_, err := c.Verify(ctx, trustcaptchatest.Token(trustcaptchatest.NotFoundVerificationID))
	assert.ErrorIs(t, err, trustcaptcha.ErrVerificationNotFound)
	_, err = c.Verify(ctx, trustcaptchatest.Token(trustcaptchatest.NotFinishedVerificationID))
	assert.ErrorIs(t, err, trustcaptcha.ErrVerificationNotFinished)
	res, err := c.Verify(ctx, trustcaptchatest.Token(trustcaptchatest.PassingVerificationID))
	require.NoError(t, err)
	assert.True(t, res.VerificationPassed)
	_, err = c.Verify(ctx, trustcaptchatest.Token(trustcaptchatest.PassingVerificationID))
	assert.ErrorIs(t, err, trustcaptcha.ErrRetrievalLimitReached)
	_, err = c.Verify(ctx, trustcaptchatest.Token(trustcaptchatest.ExpiredVerificationID))
	assert.ErrorIs(t, err, trustcaptcha.ErrResultExpired)
	_, err = c.Verify(ctx, trustcaptchatest.Token(trustcaptchatest.RetrievalLimitVerificationID))
	assert.ErrorIs(t, err, trustcaptcha.ErrRetrievalLimitReached)
	_, err = c.Verify(ctx, trustcaptchatest.ClientFailoverToken())
	assert.ErrorIs(t, err, trustcaptcha.ErrClientReportedFailover)
	expired := api.Add(trustcaptcha.Result{VerificationPassed: true, ResultExpiresAt: time.Now().Add(-time.Minute)})
	_, err = c.Verify(ctx, expired)
	assert.ErrorIs(t, err, trustcaptcha.ErrResultExpired)

	wrongKey, err := trustcaptcha.NewClient("not-the-key", trustcaptcha.WithAPIHost(api.URL))
	require.NoError(t, err)
	_, err = wrongKey.Verify(ctx, api.Human())
	assert.ErrorIs(t, err, trustcaptcha.ErrAPIKeyInvalid)
	assert.NotContains(t, err.Error(), "not-the-key")
}

func TestClientDecodesEveryResultField(t *testing.T) {
	t.Parallel()
	srv := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, resultJSON(true, 0.3))
	})
	res, err := newClient(t, srv.URL).Verify(context.Background(), tokenFor(someID))
	require.NoError(t, err)
	want := trustcaptcha.Result{
		CaptchaID: "6f1a7c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b", VerificationID: someID, VerificationPassed: true,
		Score: 0.3, DecisionType: "RISK_SCORE", DecisionAction: "PASS", RiskScoringEnabled: true,
		Origin: "https://example.com", IPAddress: "203.0.113.7", CountryCode: "CH", DeviceFamily: "Desktop",
		OperatingSystem: "Linux", Browser: "Firefox",
		VerificationStartedAt:  time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC),
		VerificationFinishedAt: time.Date(2026, 11, 25, 10, 0, 2, 123000000, time.UTC),
		ResultExpiresAt:        time.Date(2026, 11, 25, 9, 5, 2, 123456000, time.UTC),
	}
	assert.True(t, want.ResultExpiresAt.Equal(res.ResultExpiresAt))
	res.ResultExpiresAt = want.ResultExpiresAt
	assert.Equal(t, want, *res)
	assert.True(t, res.ResultFirstFetchedAt.IsZero(), "a null timestamp is the zero time")
}

func TestClientReadsUnknownTimestampsAsZero(t *testing.T) {
	t.Parallel()
	valid := resultJSON(true, 0.1)
	for name, stamp := range map[string]string{
		"garbage":      `"yesterday"`,
		"epoch number": `1732528800`,
		"date alone":   `"2026-11-25"`,
		"object":       `{"at":1}`,
		"bool":         `true`,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			body := strings.Replace(valid, `"2026-11-25T10:00:00"`, stamp, 1)
			require.NotEqual(t, valid, body)
			srv := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, body)
			})
			res, err := newClient(t, srv.URL).Verify(context.Background(), tokenFor(someID))
			require.NoError(t, err, "an unreadable timestamp must not fail a passed verification")
			assert.True(t, res.VerificationPassed)
			assert.True(t, res.VerificationStartedAt.IsZero())
			assert.False(t, res.VerificationFinishedAt.IsZero(), "the other timestamps are still read")
		})
	}
}

func TestClientSendsTheProtocolRequest(t *testing.T) {
	t.Parallel()
	srv := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, resultJSON(true, 0.1))
	})
	c := newClient(t, srv.URL+"/prefix/")
	_, err := c.Verify(context.Background(), tokenFor(strings.ToUpper(someID)))
	require.NoError(t, err)
	r := srv.last.Load()
	assert.Equal(t, http.MethodGet, r.Method)
	assert.Equal(t, "/prefix/v2/verifications/"+someID+"/results", r.URL.Path)
	assert.Empty(t, r.URL.RawQuery, "clientFailover is sent only when the token claims it")
	assert.Equal(t, "Bearer "+testKey, r.Header.Get("Authorization"))
	ua, ok := strings.CutPrefix(r.Header.Get("User-Agent"), "Trustcaptcha/")
	require.True(t, ok, "User-Agent in the SDKs' format")
	raw, err := base64.StdEncoding.DecodeString(ua)
	require.NoError(t, err)
	assert.JSONEq(t, `{"language":"go","version":"`+trustcaptcha.Version+`"}`, string(raw))

	failover := trustcaptcha.Token{VerificationID: someID, ClientFailover: true}.Encode()
	_, err = c.Verify(context.Background(), failover)
	require.NoError(t, err)
	assert.Equal(t, "clientFailover=true", srv.last.Load().URL.RawQuery)
}

func TestClientNeverUsesAHostFromTheToken(t *testing.T) {
	t.Parallel()
	attacker := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, resultJSON(true, 0))
	})
	api := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
	})
	payload, _ := json.Marshal(
		map[string]any{"verificationId": someID, "apiEndpoint": attacker.URL, "apiHost": attacker.URL},
	)
	tok := base64.StdEncoding.EncodeToString(payload)
	_, err := newClient(t, api.URL).Verify(context.Background(), tok)
	require.ErrorIs(t, err, trustcaptcha.ErrVerificationNotFound)
	assert.Zero(t, attacker.hits.Load(), "the host named in the token got a request")
	assert.Equal(t, int64(1), api.hits.Load())
}

func TestClientRejectsMalformedTokensWithoutARequest(t *testing.T) {
	t.Parallel()
	srv := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, resultJSON(true, 0))
	})
	c := newClient(t, srv.URL)
	cases := map[string]string{
		"path traversal ID": b64(`{"verificationId":"../../admin"}`),
		"ID with slash":     b64(`{"verificationId":"3f2b8c4e-9d1a-4b6c-8e7f-11223344556/"}`),
		"ID with query":     b64(`{"verificationId":"3f2b8c4e-9d1a-4b6c-8e7f-1122?x=1#abcd"}`),
		"ID too long":       b64(`{"verificationId":"` + someID + `0"}`),
		"ID not a string":   b64(`{"verificationId":12345}`),
		"no ID":             b64(`{"clientFailover":true}`),
		"failover not bool": b64(`{"verificationId":"` + someID + `","clientFailover":"true"}`),
		"JSON array":        b64(`["` + someID + `"]`),
		"two objects":       b64(`{"verificationId":"` + someID + `"}{}`),
		"not JSON":          b64(`hello`),
		"URL-safe base64": strings.NewReplacer("+", "-", "/", "_").
			Replace(b64(`{"verificationId":"` + someID + `","x":"??>>"}`)),
		"no padding":          strings.TrimRight(b64(`{"verificationId":"`+someID+`" }`), "="),
		"not base64":          "not a token!",
		"raw JSON":            `{"verificationId":"` + someID + `"}`,
		"huge":                strings.Repeat("A", trustcaptcha.MaxTokenLength+4),
		"newline inside":      b64(`{"verificationId":"` + someID + `"}`)[:10] + "\n" + b64(`{"verificationId":"` + someID + `"}`)[10:],
		"NUL bytes":           b64("{\"verificationId\":\"" + someID + "\x00\"}"),
		"invalid UTF-8 in ID": b64("{\"verificationId\":\"\xff\xfe" + someID[2:] + "\"}"),
	}
	for name, tok := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := c.Verify(context.Background(), tok)
			require.ErrorIs(t, err, trustcaptcha.ErrTokenInvalid)
			assertSafeError(t, err, tok)
		})
	}
	_, err := c.Verify(context.Background(), "")
	require.ErrorIs(t, err, trustcaptcha.ErrTokenMissing)
	assert.Zero(t, srv.hits.Load(), "a malformed token reached the API")
}

func TestClientNeverFollowsRedirects(t *testing.T) {
	t.Parallel()
	other := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, resultJSON(true, 0))
	})
	for _, code := range []int{301, 302, 303, 307, 308} {
		t.Run(fmt.Sprint(code), func(t *testing.T) {
			api := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
				http.Redirect(w, r, other.URL+r.URL.Path, code)
			})
			follower := &http.Client{Timeout: time.Second} // follows redirects by itself
			c := newClient(t, api.URL, trustcaptcha.WithHTTPClient(follower))
			_, err := c.Verify(context.Background(), tokenFor(someID))
			require.ErrorIs(t, err, trustcaptcha.ErrUnexpectedResponse)
			assert.Equal(t, int64(1), api.hits.Load())
		})
	}
	assert.Zero(t, other.hits.Load(), "a redirect was followed: the key went to another host")
}

func TestClientRedirectLoopIsNotFollowed(t *testing.T) {
	t.Parallel()
	var api *handServer
	api = newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, api.URL+r.URL.Path, http.StatusFound)
	})
	_, err := newClient(t, api.URL).Verify(context.Background(), tokenFor(someID))
	require.ErrorIs(t, err, trustcaptcha.ErrUnexpectedResponse)
	assert.Equal(t, int64(1), api.hits.Load())
}

// blackhole returns the address of a listener that never accepts: the
// kernel completes the handshake, then nothing ever answers.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	return "http://" + ln.Addr().String()
}

func TestClientBlackholedHostReturnsWithinTheTimeout(t *testing.T) {
	t.Parallel()
	c := newClient(t, blackhole(t), trustcaptcha.WithTimeout(300*time.Millisecond))
	start := time.Now()
	_, err := c.Verify(context.Background(), tokenFor(someID))
	elapsed := time.Since(start)
	require.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Less(t, elapsed, 3*time.Second, "the timeout did not bound the call")
	assertSafeError(t, err, "")
}

func TestClientHonoursTheContext(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	tok := tokenFor("55555555-5555-4555-8555-555555555555")
	arrived := make(chan struct{}, 1)
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	c := newClient(t, hang.URL)

	ctx, cancel := context.WithCancel(context.Background())
	go func() { <-arrived; cancel() }()
	_, err := c.Verify(ctx, tok)
	require.ErrorIs(t, err, context.Canceled)
	assert.NotErrorIs(t, err, trustcaptcha.ErrServerUnreachable, "the caller giving up is no outage")

	_, err = c.Verify(ctx, tok) // already cancelled: no request
	require.ErrorIs(t, err, context.Canceled)

	short, cancel2 := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel2()
	_, err = c.Verify(short, tok)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestClientClosedPortIsUnreachable(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	_, err = newClient(t, "http://"+addr).Verify(context.Background(), tokenFor(someID))
	require.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
	assert.ErrorIs(t, err, syscall.ECONNREFUSED)
	assertSafeError(t, err, "")
}

func TestClientBadResultBodiesAreErrors(t *testing.T) {
	t.Parallel()
	valid := resultJSON(true, 0.1)
	cases := map[string]struct {
		body string
		want error
	}{
		"empty":       {"", trustcaptcha.ErrUnexpectedResponse},
		"not JSON":    {"<html>hello</html>", trustcaptcha.ErrUnexpectedResponse},
		"truncated":   {valid[:len(valid)/2], trustcaptcha.ErrUnexpectedResponse},
		"null":        {"null", trustcaptcha.ErrUnexpectedResponse},
		"array":       {"[" + valid + "]", trustcaptcha.ErrUnexpectedResponse},
		"two objects": {valid + valid, trustcaptcha.ErrUnexpectedResponse},
		"passed as string": {
			strings.Replace(valid, `"verificationPassed":true`, `"verificationPassed":"true"`, 1),
			trustcaptcha.ErrUnexpectedResponse,
		},
		"score as string": {
			strings.Replace(valid, `"score":0.1`, `"score":"0.1"`, 1),
			trustcaptcha.ErrUnexpectedResponse,
		},
		"score missing": {strings.Replace(valid, `"score":0.1,`, ``, 1), trustcaptcha.ErrUnexpectedResponse},
		"passed missing": {
			strings.Replace(valid, `"verificationPassed":true,`, ``, 1),
			trustcaptcha.ErrUnexpectedResponse,
		},
		"score negative": {
			strings.Replace(valid, `"score":0.1`, `"score":-0.5`, 1),
			trustcaptcha.ErrUnexpectedResponse,
		},
		"score above one": {
			strings.Replace(valid, `"score":0.1`, `"score":7`, 1),
			trustcaptcha.ErrUnexpectedResponse,
		},
		"other verification": {
			strings.Replace(valid, someID, "00000000-0000-0000-0000-000000000000", 1),
			trustcaptcha.ErrUnexpectedResponse,
		},
		"origin as object": {
			strings.Replace(valid, `"origin":"https://example.com"`, `"origin":{}`, 1),
			trustcaptcha.ErrUnexpectedResponse,
		},
		"verificationId number": {
			strings.Replace(valid, `"verificationId":"`+someID+`"`, `"verificationId":1`, 1),
			trustcaptcha.ErrUnexpectedResponse,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, tc.body)
			})
			res, err := newClient(t, srv.URL).Verify(context.Background(), tokenFor(someID))
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, res, "a bad body must never give a result")
		})
	}
}

func TestClientBodyCutShortIsUnreachable(t *testing.T) {
	t.Parallel()
	srv := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "4000")
		_, _ = io.WriteString(w, `{"verificationId":"`+someID+`","verificationPassed":true,`)
		// The handler returns: net/http closes the connection short of 4000 bytes.
	})
	res, err := newClient(t, srv.URL).Verify(context.Background(), tokenFor(someID))
	require.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
	assert.Nil(t, res)
}

func TestClientReadsAHugeBodyOnlyUpToItsCap(t *testing.T) {
	t.Parallel()
	for name, size := range map[string]int64{"10 MiB": 10 << 20, "endless": -1} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			var written atomic.Int64
			srv := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
				chunk := []byte(`{"verificationId":"` + strings.Repeat("x", 32<<10))
				for size < 0 || written.Load() < size {
					n, err := w.Write(chunk)
					written.Add(int64(n))
					if err != nil {
						return
					}
				}
			})
			res, err := newClient(t, srv.URL).Verify(context.Background(), tokenFor(someID))
			require.ErrorIs(t, err, trustcaptcha.ErrUnexpectedResponse)
			assert.Nil(t, res)
		})
	}
}

func TestClientReusesConnections(t *testing.T) {
	t.Parallel()
	srv := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, resultJSON(true, 0.1))
	})
	c := newClient(t, srv.URL)
	tok := tokenFor(someID)
	for range 1000 {
		_, err := c.Verify(context.Background(), tok)
		require.NoError(t, err)
	}
	assert.LessOrEqual(
		t,
		srv.conns.Load(),
		int64(2),
		"1,000 sequential verifications opened %d connections",
		srv.conns.Load(),
	)

	// Error answers are drained, so they keep the connection too.
	four04 := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound)
		_, _ = io.WriteString(w, `{"error":"verification not found"}`)
	})
	c = newClient(t, four04.URL)
	for range 200 {
		_, err := c.Verify(context.Background(), tok)
		require.ErrorIs(t, err, trustcaptcha.ErrVerificationNotFound)
	}
	assert.LessOrEqual(t, four04.conns.Load(), int64(2))
}

func TestClientRetriesOnlyWhatNeverReachedTheAPI(t *testing.T) {
	t.Parallel()
	t.Run("connection refused once: retried", func(t *testing.T) {
		srv := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.WriteString(w, resultJSON(true, 0.1))
		})
		var dials atomic.Int64
		d := &net.Dialer{}
		tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			if dials.Add(1) == 1 {
				return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
			}
			return d.DialContext(ctx, network, addr)
		}}
		c := newClient(t, srv.URL, trustcaptcha.WithHTTPClient(&http.Client{Transport: tr}))
		res, err := c.Verify(context.Background(), tokenFor(someID))
		require.NoError(t, err)
		assert.True(t, res.VerificationPassed)
		assert.Equal(t, int64(2), dials.Load())
		assert.Equal(t, int64(1), srv.hits.Load())
	})
	t.Run("refused twice: one retry only", func(t *testing.T) {
		var dials atomic.Int64
		tr := &http.Transport{DialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			dials.Add(1)
			return nil, &net.OpError{Op: "dial", Net: network, Err: syscall.ECONNREFUSED}
		}}
		c := newClient(t, "http://127.0.0.1:1", trustcaptcha.WithHTTPClient(&http.Client{Transport: tr}))
		_, err := c.Verify(context.Background(), tokenFor(someID))
		require.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
		assert.Equal(t, int64(2), dials.Load())
	})
	t.Run("connection dropped after the request was sent: not retried", func(t *testing.T) {
		srv := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		})
		_, err := newClient(t, srv.URL).Verify(context.Background(), tokenFor(someID))
		require.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
		assert.Equal(t, int64(1), srv.hits.Load(), "a request the API may have counted was sent again")
	})
}

func TestNewClientRejectsBadConfiguration(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		key  string
		opts []trustcaptcha.ClientOption
	}{
		"empty key":        {"", nil},
		"blank key":        {"  ", nil},
		"key with newline": {"abc\r\nX-Evil: 1", nil},
		"key with NUL":     {"abc\x00def", nil},
		"host without scheme": {
			testKey,
			[]trustcaptcha.ClientOption{trustcaptcha.WithAPIHost("api.trustcomponent.com")},
		},
		"ftp host": {
			testKey,
			[]trustcaptcha.ClientOption{trustcaptcha.WithAPIHost("ftp://api.trustcomponent.com")},
		},
		"empty host": {testKey, []trustcaptcha.ClientOption{trustcaptcha.WithAPIHost("")}},
		"host with user info": {
			testKey,
			[]trustcaptcha.ClientOption{trustcaptcha.WithAPIHost("https://u:p@api.trustcomponent.com")},
		},
		"host with query": {
			testKey,
			[]trustcaptcha.ClientOption{trustcaptcha.WithAPIHost("https://api.trustcomponent.com/?x=1")},
		},
		"host with fragment": {
			testKey,
			[]trustcaptcha.ClientOption{trustcaptcha.WithAPIHost("https://api.trustcomponent.com/#x")},
		},
		"nil http client":     {testKey, []trustcaptcha.ClientOption{trustcaptcha.WithHTTPClient(nil)}},
		"zero timeout":        {testKey, []trustcaptcha.ClientOption{trustcaptcha.WithTimeout(0)}},
		"negative connect":    {testKey, []trustcaptcha.ClientOption{trustcaptcha.WithConnectTimeout(-time.Second)}},
		"bad proxy":           {testKey, []trustcaptcha.ClientOption{trustcaptcha.WithProxy("::nope")}},
		"breaker no cooldown": {testKey, []trustcaptcha.ClientOption{trustcaptcha.WithBreaker(3, 0)}},
		"http client and proxy": {
			testKey,
			[]trustcaptcha.ClientOption{
				trustcaptcha.WithHTTPClient(&http.Client{}),
				trustcaptcha.WithProxy("http://127.0.0.1:3128"),
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			c, err := trustcaptcha.NewClient(tc.key, tc.opts...)
			require.Error(t, err)
			assert.Nil(t, c)
			assert.NotContains(t, err.Error(), testKey)
		})
	}
	c, err := trustcaptcha.NewClient(
		testKey,
		trustcaptcha.WithProxy("http://127.0.0.1:3128"),
		trustcaptcha.WithBreaker(0, 0),
		nil,
	)
	require.NoError(t, err)
	assert.NotNil(t, c)
}

func TestNewClientTellsASiteKeyFromTheAPIKey(t *testing.T) {
	t.Parallel()
	for _, key := range []string{trustcaptchatest.DefaultSiteKey, " " + strings.ToUpper(trustcaptchatest.DefaultSiteKey) + "\n"} {
		c, err := trustcaptcha.NewClient(key)
		require.Error(t, err)
		assert.Nil(t, c)
		assert.Contains(t, err.Error(), "site key")
		assert.Contains(t, err.Error(), "secret API key")
	}
}

func TestNewClientTrimsWhiteSpaceAroundTheKey(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	for _, key := range []string{" " + api.APIKey(), api.APIKey() + "\n", "\t" + api.APIKey() + " \r\n"} {
		c, err := trustcaptcha.NewClient(key, trustcaptcha.WithAPIHost(api.URL))
		require.NoError(t, err)
		res, err := c.Verify(context.Background(), api.Human())
		require.NoError(t, err, "a key read from a file with a trailing newline works")
		assert.True(t, res.VerificationPassed)
	}
}

func TestClientWithProxySendsThroughTheProxy(t *testing.T) {
	t.Parallel()
	proxy := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, resultJSON(true, 0.1)) // plays the proxy and the API
	})
	c := newClient(t, "http://api.trustcaptcha.invalid", trustcaptcha.WithProxy(proxy.URL))
	res, err := c.Verify(context.Background(), tokenFor(someID))
	require.NoError(t, err)
	assert.True(t, res.VerificationPassed)
	assert.Equal(t, "api.trustcaptcha.invalid", proxy.last.Load().Host)
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
			px, err := silentproxy.New(api.Listener.Addr().String())
			require.NoError(t, err)
			t.Cleanup(px.Close)
			roots := x509.NewCertPool()
			roots.AddCert(api.Certificate())
			c := newClient(t, "https://"+px.Addr(), trustcaptcha.WithTimeout(timeout),
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
			// Healthy first: a verification passes on the pooled connections.
			_, err = c.Verify(context.Background(), tokenFor(freshID()))
			require.NoError(t, err)

			px.Kill()
			killed.Store(true)
			select {
			case <-passed:
			case <-time.After(timeout + 2*time.Second):
				t.Fatalf("no verification passed within the timeout + 2 s of the connections' death")
			}
		})
	}
}

// Fault injection: the API fails the ways a network does. Each case maps to
// the right sentinel, never to a result, and never lets the key leave for
// another host.
func TestClientFaultInjection(t *testing.T) {
	t.Parallel()
	valid := resultJSON(true, 0.1)
	cases := []struct {
		name    string
		handler http.HandlerFunc
		tls     bool
		want    error
	}{
		{
			name: "slow headers past the timeout",
			want: trustcaptcha.ErrServerUnreachable,
			handler: func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-time.After(5 * time.Second):
				case <-r.Context().Done():
				}
			},
		},
		{
			name: "slow body past the timeout",
			want: trustcaptcha.ErrServerUnreachable,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Length", "2000")
				_, _ = io.WriteString(w, valid[:10])
				w.(http.Flusher).Flush()
				for i := 10; i < len(valid); i++ {
					select {
					case <-time.After(100 * time.Millisecond):
					case <-r.Context().Done():
						return
					}
					_, _ = io.WriteString(w, valid[i:i+1])
					w.(http.Flusher).Flush()
				}
			},
		},
		{
			name: "connection reset before any answer",
			want: trustcaptcha.ErrServerUnreachable,
			handler: func(w http.ResponseWriter, r *http.Request) {
				conn, _, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_ = conn.(*net.TCPConn).SetLinger(0) // RST, not FIN
					conn.Close()
				}
			},
		},
		{
			name: "connection reset mid-body",
			want: trustcaptcha.ErrServerUnreachable,
			handler: func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_, _ = buf.WriteString(
						"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 900\r\n\r\n" + valid[:40],
					)
					_ = buf.Flush()
					_ = conn.(*net.TCPConn).SetLinger(0)
					conn.Close()
				}
			},
		},
		{
			name: "garbage instead of HTTP",
			want: trustcaptcha.ErrServerUnreachable,
			handler: func(w http.ResponseWriter, r *http.Request) {
				conn, buf, err := http.NewResponseController(w).Hijack()
				if err == nil {
					_, _ = buf.WriteString("SSH-2.0-OpenSSH_9.6\r\n\r\n")
					_ = buf.Flush()
					conn.Close()
				}
			},
		},
		{
			name: "200 with HTML",
			want: trustcaptcha.ErrUnexpectedResponse,
			handler: func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html")
				_, _ = io.WriteString(w, "<html><body>Service Unavailable</body></html>")
			},
		},
		{
			name: "200 with a result of wrong types everywhere",
			want: trustcaptcha.ErrUnexpectedResponse,
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, `{"verificationId":1,"verificationPassed":"yes","score":"low","origin":[]}`)
			},
		},
		{
			name: "200 with an empty object",
			want: trustcaptcha.ErrUnexpectedResponse,
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, `{}`)
			},
		},
		{
			name: "200 with passed but no score",
			want: trustcaptcha.ErrUnexpectedResponse,
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, `{"verificationId":"`+someID+`","verificationPassed":true}`)
			},
		},
		{
			name: "TLS with an untrusted certificate",
			tls:  true,
			want: trustcaptcha.ErrServerUnreachable,
			handler: func(w http.ResponseWriter, r *http.Request) {
				_, _ = io.WriteString(w, valid)
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var srv *httptest.Server
			if tc.tls {
				srv = httptest.NewTLSServer(tc.handler)
			} else {
				srv = httptest.NewServer(tc.handler)
			}
			t.Cleanup(srv.Close)
			timeout := trustcaptcha.DefaultTimeout // an answer arrives well within it on a loaded machine
			if strings.HasSuffix(tc.name, "past the timeout") {
				timeout = 400 * time.Millisecond
			}
			c := newClient(t, srv.URL, trustcaptcha.WithTimeout(timeout), trustcaptcha.WithBreaker(0, 0))
			tok := tokenFor(someID)
			res, err := c.Verify(context.Background(), tok)
			require.ErrorIs(t, err, tc.want)
			assert.Nil(t, res, "a fault must never give a result")
			assertSafeError(t, err, tok)
		})
	}
}

func TestClientPlainHTTPToATLSHostFails(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, resultJSON(true, 0))
	}))
	t.Cleanup(srv.Close)
	c := newClient(t, strings.Replace(srv.URL, "http://", "https://", 1), trustcaptcha.WithTimeout(time.Second))
	_, err := c.Verify(context.Background(), tokenFor(someID))
	require.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
}

// A listener that records whether anything ever connected: the key must
// never leave for a host that only a token or a redirect names.
func TestClientSendsTheKeyToNoOtherHost(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	got := make(chan string, 8)
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			line, _ := bufio.NewReader(conn).ReadString('\n')
			got <- line
			conn.Close()
		}
	}()
	other := "http://" + ln.Addr().String()
	api := newHandServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", other+"/steal")
		w.WriteHeader(http.StatusTemporaryRedirect)
	})
	payload := `{"verificationId":"` + someID + `","apiEndpoint":"` + other + `","apiHost":"` + other + `"}`
	for _, tok := range []string{tokenFor(someID), b64(payload)} {
		_, err := newClient(t, api.URL).Verify(context.Background(), tok)
		require.ErrorIs(t, err, trustcaptcha.ErrUnexpectedResponse)
	}
	select {
	case line := <-got:
		t.Fatalf("another host got a request: %q", line)
	case <-time.After(100 * time.Millisecond):
	}
}

// TestClientNeverResendsAFetch: the API reads a fetch on a reused keep-alive
// connection and closes it without answering. net/http would resend a
// bodyless GET on a new connection by itself; the API may have counted the
// first one, so the Client must not: the fetch fails as unreachable, sent once.
func TestClientNeverResendsAFetch(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { ln.Close() })
	var mu sync.Mutex
	var fetches []*http.Request
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer conn.Close()
				br := bufio.NewReader(conn)
				for n := 0; ; n++ {
					req, err := http.ReadRequest(br)
					if err != nil {
						return
					}
					mu.Lock()
					fetches = append(fetches, req)
					mu.Unlock()
					if n == 1 { // the second request on this connection: read, then hang up
						return
					}
					body := resultJSON(true, 0.1)
					_, _ = fmt.Fprintf(
						conn,
						"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
						len(body),
						body,
					)
				}
			}()
		}
	}()
	c := newClient(t, "http://"+ln.Addr().String())
	_, err = c.Verify(context.Background(), tokenFor(someID))
	require.NoError(t, err)
	_, err = c.Verify(context.Background(), tokenFor(someID))
	require.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
	mu.Lock()
	defer mu.Unlock()
	assert.Len(t, fetches, 2, "the fetch was sent again")
	for _, r := range fetches {
		assert.Equal(t, int64(0), r.ContentLength, "a fetch carries no body")
		assert.Empty(t, r.TransferEncoding, "a fetch carries no body")
	}
}

// TestClientMaxInFlight: past the bound a verification fails at once as an
// outage (so the failover policy decides), and the bound frees up again.
func TestClientMaxInFlight(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
		_, _ = w.Write([]byte(resultJSON(true, 0.1)))
	}))
	t.Cleanup(api.Close)
	c := newClient(t, api.URL, trustcaptcha.WithMaxInFlight(2))
	tok := tokenFor(someID)

	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			_, err := c.Verify(context.Background(), tok)
			assert.NoError(t, err)
		})
	}
	<-arrived
	<-arrived
	_, err := c.Verify(context.Background(), tok)
	require.ErrorIs(t, err, trustcaptcha.ErrInFlightLimit)
	require.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable, "the failover policy must see an outage")

	// Through the middleware: FailOpen admits it as a failover.
	var s seen
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: c, Failover: trustcaptcha.FailOpen,
		AllowReplay: true, Logger: quietLogger()})(probe(&s))
	assert.Equal(t, http.StatusNoContent, send(h, tok).Code)
	assert.True(t, s.failover)
	assert.Equal(t, "server-unreachable", s.decision.Reason)

	close(release)
	wg.Wait()
	_, err = c.Verify(context.Background(), tok)
	assert.NoError(t, err, "slots are given back")
	_, err = trustcaptcha.NewClient("k", trustcaptcha.WithMaxInFlight(-1))
	assert.Error(t, err)
	_, err = trustcaptcha.NewClient("k", trustcaptcha.WithMaxInFlight(0))
	assert.NoError(t, err, "zero means the default")
}

// TestClientWithTLSConfig: a private CA is trusted through WithTLSConfig, on
// the Client's own transport (HTTP/2 included).
func TestClientWithTLSConfig(t *testing.T) {
	t.Parallel()
	var proto atomic.Value
	api := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		proto.Store(r.Proto)
		_, _ = w.Write([]byte(resultJSON(true, 0.1)))
	}))
	api.EnableHTTP2 = true
	api.StartTLS()
	t.Cleanup(api.Close)
	roots := x509.NewCertPool()
	roots.AddCert(api.Certificate())
	c := newClient(t, api.URL, trustcaptcha.WithTLSConfig(&tls.Config{RootCAs: roots}))
	_, err := c.Verify(context.Background(), tokenFor(someID))
	require.NoError(t, err)
	assert.Equal(t, "HTTP/2.0", proto.Load())

	_, err = trustcaptcha.NewClient("k", trustcaptcha.WithTLSConfig(nil))
	assert.Error(t, err)
	_, err = trustcaptcha.NewClient("k", trustcaptcha.WithHTTPClient(&http.Client{}),
		trustcaptcha.WithTLSConfig(&tls.Config{}))
	assert.Error(t, err)
}

// TestChangelogMatchesVersion: the newest CHANGELOG.md entry is the Version
// the client sends.
func TestChangelogMatchesVersion(t *testing.T) {
	log, err := os.ReadFile("CHANGELOG.md")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\]`).FindSubmatch(log)
	require.NotNil(t, m, "no version entry in CHANGELOG.md")
	require.Equal(t, trustcaptcha.Version, string(m[1]))
}
