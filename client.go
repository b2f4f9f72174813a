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

// DefaultAPIHost is TrustCaptcha's API, which a Client asks unless
// WithAPIHost names another, and the widget's default api-url.
const DefaultAPIHost = "https://api.trustcomponent.com"

// The Client's defaults, where no option sets another. The timeouts are the
// official SDKs'. The in-flight bound covers a healthy API at 5,000
// verifications a second and 50 ms each, about 250 waiting at once.
const (
	defaultTimeout         = 5 * time.Second // one whole Verify call
	defaultConnectTimeout  = 3 * time.Second // one connection: TCP and TLS
	defaultBreakerFailures = 5
	defaultBreakerCooldown = 10 * time.Second
	defaultMaxInFlight     = 512
	maxResultBytes         = 64 << 10 // of a 200 answer; a real result is under 2 KiB
	maxDrainBytes          = 4 << 10  // of another answer, so its connection is reused
)

// Client asks the TrustCaptcha API for verification results. It is a
// Verifier, safe for concurrent use: make one and share it. The zero value
// is not usable; call NewClient.
//
// Every call is bounded. By default a connection may take 3 s and a whole
// call 5 s (WithConnectTimeout, WithTimeout), and at most 512 verifications
// wait on the API at once (WithMaxInFlight).
//
// After 5 failures in a row to reach the API, the Client's outage breaker
// opens: calls fail at once with ErrBreakerOpen, so the FailoverPolicy
// decides without waiting for timeouts. One probe at a time then goes to the
// API. The first waits half a second, and each failed one doubles the wait,
// up to 10 s (WithBreaker). So once an outage of up to 10 s ends,
// verifications pass again within about a second.
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

// WithAPIHost sets the API's base URL, DefaultAPIHost by default. It must be
// an absolute http or https URL without user info, query or fragment; a path
// becomes a prefix of every request's path.
func WithAPIHost(host string) ClientOption {
	return func(c *clientConfig) error {
		u, err := url.Parse(strings.TrimSpace(host))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Opaque != "" {
			return errors.New("trustcaptcha: API host must be an absolute http(s) URL such as " +
				DefaultAPIHost)
		}
		if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" {
			return errors.New("trustcaptcha: API host must not carry user info, a query or a fragment")
		}
		c.host = u.Scheme + "://" + u.Host + strings.TrimRight(u.EscapedPath(), "/")
		return nil
	}
}

// WithHTTPClient sends the Client's requests through a copy of hc, which
// never follows redirects, instead of the Client's own transport. It cannot
// be combined with the options that configure that transport:
// WithConnectTimeout, WithProxy, WithTLSConfig and WithTransportWrapper.
func WithHTTPClient(hc *http.Client) ClientOption {
	return func(c *clientConfig) error {
		if hc == nil {
			return errors.New("trustcaptcha: WithHTTPClient: nil *http.Client")
		}
		c.hc = hc
		return nil
	}
}

// WithTimeout bounds one whole Verify call, the retry of a refused
// connection included, to d (5 s by default; d must be positive). The
// request's context can only shorten it.
//
// It also paces the health check of the Client's own HTTP/2 connections. A
// connection that has received nothing for half of d (at least 500 ms, at
// most 2 s) is pinged, and closed when the ping goes unanswered as long. So
// a connection that died without a reset, because a NAT or load balancer
// forgot it, is replaced soon after the first verification on it times out.
func WithTimeout(d time.Duration) ClientOption {
	return func(c *clientConfig) error {
		if d <= 0 {
			return fmt.Errorf("trustcaptcha: WithTimeout: %v is not positive", d)
		}
		c.timeout = d
		return nil
	}
}

// WithConnectTimeout bounds one connection to the API, TCP and TLS, to d
// (3 s by default; d must be positive).
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
		scheme := u != nil && (u.Scheme == "http" || u.Scheme == "https" || u.Scheme == "socks5")
		if err != nil || !scheme || u.Host == "" {
			return errors.New("trustcaptcha: WithProxy: want an http, https or socks5 URL with a host")
		}
		c.proxy = u
		c.transportOption = true
		return nil
	}
}

// WithMaxInFlight bounds the verifications waiting on the API at once, and
// the pool of idle connections, to n. One more fails at once with
// ErrInFlightLimit, an outage, so the failover policy decides. Zero means
// 512, enough for a healthy API at 5,000 verifications a second; a negative
// n is an error.
func WithMaxInFlight(n int) ClientOption {
	return func(c *clientConfig) error {
		if n < 0 {
			return fmt.Errorf("trustcaptcha: WithMaxInFlight: %d is negative", n)
		}
		c.maxInFlight = cmp.Or(n, defaultMaxInFlight)
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
// otelhttp.NewTransport. The requests carry the API key in their
// Authorization header: a wrapper must not log it. It cannot be combined
// with WithHTTPClient; a nil wrap, or a wrap that returns nil, is an error.
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

// WithBreaker sets the outage breaker, 5 failures and 10 s by default.
// After failures unreachable errors in a row, the Client answers
// ErrBreakerOpen at once, while one probe at a time goes to the API. The
// first probe waits half a second (or cooldown, if shorter), and each failed
// one doubles the wait, up to cooldown. Any answer but a 5xx closes the
// breaker. A failures of zero or less turns it off.
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
	apiKey, err := checkKey(apiKey)
	if err != nil {
		return nil, err
	}
	cfg := clientConfig{
		host:            DefaultAPIHost,
		timeout:         defaultTimeout,
		connectTimeout:  defaultConnectTimeout,
		breakerFailures: defaultBreakerFailures,
		breakerCooldown: defaultBreakerCooldown,
		maxInFlight:     defaultMaxInFlight,
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
		return nil, errors.New("trustcaptcha: NewClient: WithConnectTimeout, WithProxy, " +
			"WithTLSConfig and WithTransportWrapper configure the built-in transport; " +
			"with WithHTTPClient, set them on your own")
	case cfg.hc != nil:
		hc = *cfg.hc
	case cfg.wrap != nil:
		if hc.Transport = cfg.wrap(hc.Transport); hc.Transport == nil {
			return nil, errors.New(
				"trustcaptcha: WithTransportWrapper: the wrapper returned a nil transport")
		}
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c := &Client{base: cfg.host, hc: &hc, timeout: cfg.timeout,
		inFlight: make(chan struct{}, cfg.maxInFlight)}
	ua := base64.StdEncoding.EncodeToString([]byte(`{"language":"go","version":"` + Version + `"}`))
	c.authHeader, c.uaHeader = []string{"Bearer " + apiKey}, []string{"Trustcaptcha/" + ua}
	if cfg.breakerFailures > 0 {
		c.breaker = &breaker{threshold: cfg.breakerFailures, maxWait: cfg.breakerCooldown,
			probeTimeout: cfg.timeout, now: cfg.now}
	}
	return c, nil
}

// checkKey trims the API key and refuses one that cannot be the secret key.
func checkKey(apiKey string) (string, error) {
	apiKey = strings.TrimSpace(apiKey)
	switch {
	case apiKey == "" || strings.ContainsFunc(apiKey, unicode.IsControl):
		return "", errors.New(
			"trustcaptcha: NewClient: the API key is empty or holds control characters")
	case uuid.Valid(apiKey):
		return "", errors.New("trustcaptcha: NewClient: the API key is a UUID, " +
			"which is the site key the widget uses; " +
			"pass the secret API key from the TrustCaptcha dashboard")
	}
	return apiKey, nil
}

// newTransport is the Client's own transport: bounded connects, an idle pool
// as large as the in-flight bound, HTTP/2 connections checked with pings.
func newTransport(cfg clientConfig) *http.Transport {
	return &http.Transport{
		DialContext: (&net.Dialer{Timeout: cfg.connectTimeout,
			KeepAlive: 30 * time.Second}).DialContext,
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
// token. It returns the result whatever it says, passed or not, or an error
// that wraps the cause's sentinel: ErrTokenInvalid for a malformed token,
// without a request; the sentinel of the API's answer; ErrServerUnreachable
// when there is none. When ctx ends first, the error wraps ctx.Err() instead
// of a sentinel. An error's text never holds the key or the token.
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
		traced := httptrace.WithClientTrace(ctx, trace)
		req, err := http.NewRequestWithContext(traced, http.MethodGet, u, nil)
		if err != nil { // cannot happen: base and ID were validated
			return nil, outcomeNeutral, fmt.Errorf("%w: building request", ErrUnexpectedResponse)
		}
		req.Header = http.Header{"Authorization": c.authHeader, "User-Agent": c.uaHeader,
			"Accept": acceptJSON}
		req.Body = unresendable{}
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

// unresendable is the empty body of every result fetch. net/http resends a
// request that failed on a reused connection by itself only when it can
// rewind the request's body, and it cannot rewind this one, so a fetch the
// API may have counted against the retrieval limit is never sent twice.
// Nothing is sent for it.
//
// It has a cost on HTTP/1.1: net/http cannot tell that a body of unknown
// length is empty, so before each request it probes the body in a goroutine
// with a 200 ms timer, which the empty body answers at once. That is about a
// dozen allocations a fetch (BENCHMARKS.md, the API client). Over HTTP/2,
// which the API speaks over TLS, net/http sends an empty last frame instead.
type unresendable struct{}

func (unresendable) Read([]byte) (int, error) { return 0, io.EOF }
func (unresendable) Close() error             { return nil }

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
func (c *Client) handle(ctx context.Context, resp *http.Response, tok Token) (
	*Result, outcome, error) {
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
		return nil, outcomeSuccess, fmt.Errorf("%w: redirect (HTTP %d) not followed",
			ErrUnexpectedResponse, code)
	default:
		return nil, outcomeSuccess, fmt.Errorf("%w (HTTP %d)", ErrUnexpectedResponse, code)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxResultBytes+1))
	if err != nil {
		return nil, outcomeBroken, fmt.Errorf("%w: reading the result: %w", ErrServerUnreachable,
			transportCause(err, ctx, c.timeout))
	}
	if len(body) > maxResultBytes {
		return nil, outcomeSuccess, fmt.Errorf("%w: result larger than %d bytes",
			ErrUnexpectedResponse, maxResultBytes)
	}
	var res Result
	if err := res.UnmarshalJSON(body); err != nil {
		return nil, outcomeSuccess, fmt.Errorf("%w: %v", ErrUnexpectedResponse, err)
	}
	if !strings.EqualFold(res.VerificationID, tok.VerificationID) {
		return nil, outcomeSuccess, fmt.Errorf("%w: result is for another verification",
			ErrUnexpectedResponse)
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
