package trustcaptcha_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
)

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
