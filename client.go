package trustcaptcha

import (
	"cmp"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/captchakit/trustcaptcha/internal/uuid"
)

// Version is this package's version, sent in the User-Agent header.
const Version = "0.3.0"

// The Client's defaults, where WithAPIHost, WithTimeout, WithConnectTimeout,
// WithBreaker and WithMaxInFlight set no other (timeouts after the official
// SDKs; 512 in flight covers a healthy API at 5,000 verifications a second
// and 50 ms, about 250 waiting).
const (
	DefaultAPIHost         = "https://api.trustcomponent.com"
	DefaultTimeout         = 5 * time.Second // one whole Verify call
	DefaultConnectTimeout  = 3 * time.Second // one connection: TCP and TLS
	DefaultBreakerFailures = 5
	DefaultBreakerCooldown = 10 * time.Second
	DefaultMaxInFlight     = 512
	maxResultBytes         = 64 << 10 // of a 200 answer; a real result is under 2 KiB
	maxDrainBytes          = 4 << 10  // of another answer, so its connection is reused
)

// Client asks the TrustCaptcha API for verification results. It is a
// Verifier, safe for concurrent use: make one and share it. The zero value
// is not usable; call NewClient.
//
// Every call is bounded: 3 s to connect, 5 s in all (WithConnectTimeout,
// WithTimeout), and at most 512 verifications wait on the API at once
// (WithMaxInFlight). After 5 consecutive failures to reach the API, its
// outage breaker answers ErrBreakerOpen at once, so the FailoverPolicy
// decides without waiting for timeouts; one probe at a time then goes to the
// API, the first after 500 ms, each failed one doubling the wait up to 10 s
// (WithBreaker). So once an outage of D seconds (up to 10 s) ends,
// verifications pass again within D + 1 s.
//
// It speaks the protocol of the official TrustCaptcha SDKs (version 3), with
// these differences, all on purpose:
//   - The API host is fixed when the Client is made and never taken from a
//     token, so the key goes to no other host; no redirect is followed with
//     it.
//   - A 5xx answer is an outage (ErrServerUnreachable), for the
//     FailoverPolicy to decide; the SDKs raise a generic error.
//   - A token is decoded strictly (standard base64 with padding, nothing
//     after the JSON), so one token has one spelling; the SDKs accept some
//     others.
//   - The key is never read from the environment: pass it to NewClient.
type Client struct {
	base                 string // scheme://host[/prefix], no trailing slash
	hc                   *http.Client
	timeout              time.Duration
	breaker              *breaker
	inFlight             chan struct{} // a slot per verification waiting on the API
	authHeader, uaHeader []string      // made once: the transport only reads them
}

var acceptJSON = []string{"application/json"}

// ClientOption configures a Client in NewClient.
type ClientOption func(*clientConfig) error

type clientConfig struct {
	host            string
	hc              *http.Client
	timeout         time.Duration
	connectTimeout  time.Duration
	proxy           *url.URL
	transportOption bool // an option configures our own transport
	breakerFailures int
	breakerCooldown time.Duration
	maxInFlight     int
	tlsConfig       *tls.Config
	wrap            func(http.RoundTripper) http.RoundTripper
	now             func() time.Time
}

// WithAPIHost sets the API's base URL (default DefaultAPIHost): an absolute
// http(s) URL without user info, query or fragment; a path is a prefix.
func WithAPIHost(host string) ClientOption {
	return func(c *clientConfig) error {
		u, err := url.Parse(strings.TrimSpace(host))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
			return errors.New("trustcaptcha: API host must be an absolute http(s) URL such as " + DefaultAPIHost)
		}
		if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			return errors.New("trustcaptcha: API host must not carry user info, a query or a fragment")
		}
		c.host = u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
		return nil
	}
}

// WithHTTPClient sends the Client's requests through a copy of hc that
// never follows redirects, instead of the Client's own transport (so not
// with WithConnectTimeout, WithProxy, WithTLSConfig, WithTransportWrapper).
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(c *clientConfig) error {
		if hc == nil {
			return errors.New("trustcaptcha: WithHTTPClient: nil *http.Client")
		}
		c.hc = hc
		return nil
	}
}

// WithTimeout bounds one whole Verify call, the retry of a refused connection
// included; the request's context can only shorten it. Default
// DefaultTimeout; d must be positive.
//
// It also sets the health check of the Client's own HTTP/2 connections: a
// connection that has received nothing for half of d (at least 500 ms, at
// most 2 s) is pinged, and closed when the ping goes unanswered as long. So a
// connection that died without a reset (a NAT or load balancer that forgot
// it) is closed within 4 s with the default timeout, and verifications pass
// again within d + 2 s of its death (BENCHMARKS.md, dead connections).
func WithTimeout(d time.Duration) ClientOption {
	return func(c *clientConfig) error {
		if d <= 0 {
			return fmt.Errorf("trustcaptcha: WithTimeout: %v is not positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithConnectTimeout bounds one connection to the API (TCP and TLS).
// Default DefaultConnectTimeout; d must be positive.
func WithConnectTimeout(d time.Duration) ClientOption {
	return func(c *clientConfig) error {
		if d <= 0 {
			return fmt.Errorf("trustcaptcha: WithConnectTimeout: %v is not positive", d)
		}
		c.connectTimeout = d
		c.transportOption = true
		return nil
	}
}

// WithProxy sends API requests through the http, https or socks5 proxy at
// proxyURL. By default none is used, not even HTTPS_PROXY's.
func WithProxy(proxyURL string) ClientOption {
	return func(c *clientConfig) error {
		u, err := url.Parse(proxyURL)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "socks5") || u.Host == "" {
			return errors.New("trustcaptcha: WithProxy: want an http, https or socks5 URL with a host")
		}
		c.proxy = u
		c.transportOption = true
		return nil
	}
}

// WithMaxInFlight bounds the verifications waiting on the API at once (and
// the idle pool): one more fails at once with ErrInFlightLimit, so the
// failover policy decides. Zero means DefaultMaxInFlight; negative, an error.
func WithMaxInFlight(n int) ClientOption {
	return func(c *clientConfig) error {
		if n < 0 {
			return fmt.Errorf("trustcaptcha: WithMaxInFlight: %d is negative", n)
		}
		c.maxInFlight = cmp.Or(n, DefaultMaxInFlight)
		return nil
	}
}

// WithTLSConfig sets a clone of cfg as the Client's own transport's TLS
// configuration, for a private CA or a client certificate.
func WithTLSConfig(cfg *tls.Config) ClientOption {
	return func(c *clientConfig) error {
		if cfg == nil {
			return errors.New("trustcaptcha: WithTLSConfig: nil *tls.Config")
		}
		c.tlsConfig = cfg.Clone()
		c.transportOption = true
		return nil
	}
}

// WithTransportWrapper wraps the Client's own transport with wrap, such as
// otelhttp.NewTransport; requests carry the API key in Authorization: do
// not log it. Not with WithHTTPClient; a nil wrap or result is an error.
func WithTransportWrapper(wrap func(http.RoundTripper) http.RoundTripper) ClientOption {
	return func(c *clientConfig) error {
		if wrap == nil {
			return errors.New("trustcaptcha: WithTransportWrapper: nil func")
		}
		c.wrap = wrap
		c.transportOption = true
		return nil
	}
}

// WithBreaker sets the outage breaker: after failures consecutive
// unreachable errors the Client answers ErrBreakerOpen at once while one
// probe at a time goes to the API, the first after min(500 ms, cooldown),
// each failed one doubling the wait up to cooldown; any answer but a 5xx
// closes it. failures <= 0 turns it off.
func WithBreaker(failures int, cooldown time.Duration) ClientOption {
	return func(c *clientConfig) error {
		if failures > 0 && cooldown <= 0 {
			return fmt.Errorf("trustcaptcha: WithBreaker: cooldown %v is not positive", cooldown)
		}
		c.breakerFailures, c.breakerCooldown = failures, cooldown
		return nil
	}
}

// NewClient returns a Client that authenticates with apiKey, the secret key
// from the TrustCaptcha dashboard. White space around the key is trimmed (a
// key read from a file often ends in a newline). An empty key, a key with
// control characters, a key that is a UUID (that is the site key, which the
// widget uses, not the API key), an invalid host or an invalid option is an
// error. The key is never read from the environment.
func NewClient(apiKey string, opts ...ClientOption) (*Client, error) {
	apiKey = strings.TrimSpace(apiKey)
	switch {
	case apiKey == "" || strings.ContainsFunc(apiKey, unicode.IsControl):
		return nil, errors.New("trustcaptcha: NewClient: the API key is empty or holds control characters")
	case uuid.Valid(apiKey):
		return nil, errors.New("trustcaptcha: NewClient: the API key is a UUID, which is the site key the widget uses; " +
			"pass the secret API key from the TrustCaptcha dashboard")
	}
	cfg := clientConfig{
		host:            DefaultAPIHost,
		timeout:         DefaultTimeout,
		connectTimeout:  DefaultConnectTimeout,
		breakerFailures: DefaultBreakerFailures,
		breakerCooldown: DefaultBreakerCooldown,
		maxInFlight:     DefaultMaxInFlight,
		now:             time.Now,
	}
	for _, o := range opts {
		if o == nil {
			continue
		}
		if err := o(&cfg); err != nil {
			return nil, err
		}
	}
	hc := http.Client{Transport: newTransport(cfg)}
	switch {
	case cfg.hc != nil && cfg.transportOption:
		return nil, errors.New("trustcaptcha: NewClient: WithConnectTimeout, WithProxy, WithTLSConfig and WithTransportWrapper configure the built-in transport; with WithHTTPClient, set them on your own")
	case cfg.hc != nil:
		hc = *cfg.hc
	case cfg.wrap != nil:
		if hc.Transport = cfg.wrap(hc.Transport); hc.Transport == nil {
			return nil, errors.New("trustcaptcha: WithTransportWrapper: the wrapper returned a nil transport")
		}
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Client{base: cfg.host, hc: &hc, timeout: cfg.timeout, inFlight: make(chan struct{}, cfg.maxInFlight)}
	ua := base64.StdEncoding.EncodeToString([]byte(`{"language":"go","version":"` + Version + `"}`))
	c.authHeader, c.uaHeader = []string{"Bearer " + apiKey}, []string{"Trustcaptcha/" + ua}
	if cfg.breakerFailures > 0 {
		c.breaker = &breaker{threshold: cfg.breakerFailures, maxWait: cfg.breakerCooldown,
			probeTimeout: cfg.timeout, now: cfg.now}
	}
	return c, nil
}

// newTransport is the Client's own transport: bounded connects, an idle pool
// as large as the in-flight bound, HTTP/2 connections checked with pings.
func newTransport(cfg clientConfig) *http.Transport {
	return &http.Transport{
		DialContext:            (&net.Dialer{Timeout: cfg.connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		ForceAttemptHTTP2:      true,
		MaxIdleConns:           cfg.maxInFlight,
		MaxIdleConnsPerHost:    cfg.maxInFlight,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    cfg.connectTimeout,
		TLSClientConfig:        cfg.tlsConfig,
		ExpectContinueTimeout:  time.Second,
		MaxResponseHeaderBytes: 64 << 10,
		Proxy:                  http.ProxyURL(cfg.proxy), // nil: none
		HTTP2: &http.HTTP2Config{
			SendPingTimeout: healthCheck(cfg.timeout), // a ping after this long without a frame…
			PingTimeout:     healthCheck(cfg.timeout), // …unanswered for as long closes the connection
		},
	}
}

// healthCheck is how long an HTTP/2 connection may stay silent before it is
// pinged, and how long the ping may go unanswered before the connection is
// closed (see WithTimeout). The check closes a connection that died
// silently before the requests on it time out; without it, requests that
// keep arriving keep such a connection busy, so dropping idle connections
// after a timeout never reaches it, and the breaker's probe waits on it too.
func healthCheck(timeout time.Duration) time.Duration {
	return min(max(timeout/2, 500*time.Millisecond), 2*time.Second)
}

// CloseIdleConnections closes the Client's idle connections; it stays usable.
func (c *Client) CloseIdleConnections() { c.hc.CloseIdleConnections() }

// ClientStats is a snapshot of a Client's state, for metrics.
type ClientStats struct {
	InFlight    int  // verifications waiting on the API now
	BreakerOpen bool // the outage breaker is open (false when turned off)
}

// Stats returns the Client's state now; cheap and safe for concurrent use.
func (c *Client) Stats() ClientStats {
	return ClientStats{InFlight: len(c.inFlight), BreakerOpen: c.breaker.isOpen()}
}

// Verify asks the API once for the result of the verification named by
// token. It returns the result whatever it says (passed or not), or an error
// that wraps the cause's sentinel: ErrTokenInvalid, with no request, for a
// malformed token; the sentinel of the API's answer; ErrServerUnreachable
// without one. When ctx ends first, the error wraps ctx.Err() and no
// sentinel. An error's text never holds the key or the token.
func (c *Client) Verify(ctx context.Context, token string) (*Result, error) {
	tok, err := ParseToken(token)
	if err != nil {
		return nil, err
	}
	if err := abandoned(ctx); err != nil {
		return nil, err
	}
	probe, ok := c.breaker.allow()
	if !ok {
		return nil, fmt.Errorf("%w: %w", ErrServerUnreachable, ErrBreakerOpen)
	}
	// Settled on every path, a panic included: an unsettled probe would hold
	// the breaker open.
	out := outcomeNeutral
	defer func() { c.breaker.record(probe, out) }()
	select {
	case c.inFlight <- struct{}{}:
		defer func() { <-c.inFlight }()
	default: // says nothing about the API
		return nil, fmt.Errorf("%w: %w (%d)", ErrServerUnreachable, ErrInFlightLimit, cap(c.inFlight))
	}
	res, out, err := c.fetch(ctx, tok)
	aerr := abandoned(ctx)
	switch {
	case err != nil && out != outcomeSuccess && aerr != nil: // says nothing about the API
		out, err = outcomeNeutral, aerr
	case out == outcomeBroken:
		// No answer on a connection: it may be dead without a reset (a NAT
		// dropped it), so the next attempt and the probe dial afresh.
		c.hc.CloseIdleConnections()
	}
	return res, err
}

// fetch does the HTTP exchange for one verification.
func (c *Client) fetch(ctx context.Context, tok Token) (*Result, outcome, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := c.base + "/v2/verifications/" + tok.VerificationID + "/results"
	if tok.ClientFailover {
		u += "?clientFailover=true"
	}
	for attempt := 0; ; attempt++ {
		var gotConn, wrote atomic.Bool
		trace := &httptrace.ClientTrace{
			GotConn:      func(httptrace.GotConnInfo) { gotConn.Store(true) },
			WroteRequest: func(i httptrace.WroteRequestInfo) { wrote.Store(i.Err == nil) },
		}
		req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, u, nil)
		if err != nil { // cannot happen: base and ID were validated
			return nil, outcomeNeutral, fmt.Errorf("%w: building request", ErrUnexpectedResponse)
		}
		req.Header = http.Header{"Authorization": c.authHeader, "User-Agent": c.uaHeader, "Accept": acceptJSON}
		// A body net/http cannot rewind, so it never resends the GET by itself
		// (the API may have counted that fetch). Nothing is sent for it.
		req.Body = io.NopCloser(strings.NewReader(""))
		resp, err := c.hc.Do(req)
		if err != nil {
			// A request that never left this machine carried nothing the API
			// could count: one retry is safe while the time budget lasts.
			neverSent := neverDialled(err) || gotConn.Load() && !wrote.Load()
			if attempt == 0 && neverSent && ctx.Err() == nil {
				continue
			}
			out := outcomeBroken
			if neverDialled(err) {
				out = outcomeFailure // no connection was involved
			}
			return nil, out, fmt.Errorf("%w: %w", ErrServerUnreachable, transportCause(err, ctx, c.timeout))
		}
		return c.handle(ctx, resp, tok)
	}
}

// apiErrors are the answers of the protocol that are not a result.
var apiErrors = map[int]error{
	http.StatusForbidden:          ErrAPIKeyInvalid,
	http.StatusNotFound:           ErrVerificationNotFound,
	http.StatusGone:               ErrResultExpired,
	http.StatusPreconditionFailed: ErrClientReportedFailover,
	http.StatusLocked:             ErrVerificationNotFinished,
	http.StatusTooManyRequests:    ErrRetrievalLimitReached,
}

// handle maps one API answer to a result or a sentinel error.
func (c *Client) handle(ctx context.Context, resp *http.Response, tok Token) (*Result, outcome, error) {
	defer resp.Body.Close()
	code := resp.StatusCode
	if code != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBytes))
	}
	sentinel, known := apiErrors[code]
	switch {
	case code == http.StatusOK:
	case known:
		return nil, outcomeSuccess, fmt.Errorf("%w (HTTP %d)", sentinel, code)
	case code >= 500 && code <= 599:
		return nil, outcomeFailure, fmt.Errorf("%w (HTTP %d)", ErrServerUnreachable, code)
	case code >= 300 && code <= 399:
		return nil, outcomeSuccess, fmt.Errorf("%w: redirect (HTTP %d) not followed", ErrUnexpectedResponse, code)
	default:
		return nil, outcomeSuccess, fmt.Errorf("%w (HTTP %d)", ErrUnexpectedResponse, code)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResultBytes+1))
	if err != nil {
		return nil, outcomeBroken, fmt.Errorf("%w: reading the result: %w", ErrServerUnreachable, transportCause(err, ctx, c.timeout))
	}
	if len(body) > maxResultBytes {
		return nil, outcomeSuccess, fmt.Errorf("%w: result larger than %d bytes", ErrUnexpectedResponse, maxResultBytes)
	}
	var res Result
	if err := res.UnmarshalJSON(body); err != nil {
		return nil, outcomeSuccess, fmt.Errorf("%w: %v", ErrUnexpectedResponse, err)
	}
	if !strings.EqualFold(res.VerificationID, tok.VerificationID) {
		return nil, outcomeSuccess, fmt.Errorf("%w: result is for another verification", ErrUnexpectedResponse)
	}
	return &res, outcomeSuccess, nil
}

// neverDialled reports whether err happened before a connection to the API
// existed, so the API cannot have seen the request.
func neverDialled(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// transportCause strips the URL from a transport error (url.Error prints it)
// and names a spent time budget plainly.
func transportCause(err error, ctx context.Context, d time.Duration) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no answer within %v: %w", d, context.DeadlineExceeded)
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
