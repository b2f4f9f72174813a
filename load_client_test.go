package trustcaptcha_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
)

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
