package trustcaptcha

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// Defaults of Options fields whose zero value stands for them.
const (
	// DefaultThreshold is the highest bot score admitted: TrustCaptcha's own
	// recommendation.
	DefaultThreshold = 0.5
	// DefaultTokenField is the form field and JSON member the widget fills.
	DefaultTokenField = "tc-verification-token"
	// DefaultTokenHeader is the request header read before the body.
	DefaultTokenHeader = "X-TC-Verification-Token"
	// DefaultMaxBodyBytes caps JSON and urlencoded bodies, and the in-memory
	// part of multipart forms.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultMaxMultipartBytes caps a whole multipart body, files included
	// (files beyond DefaultMaxBodyBytes go to temporary files, not memory).
	DefaultMaxMultipartBytes = 32 << 20
)

// Options configure RequireCaptcha. Only Verifier is required; every other
// zero value is the recommended default, named in the field's comment.
type Options struct {
	// Verifier fetches the verification result for a token, usually a
	// *Client. Required: RequireCaptcha panics on nil.
	Verifier Verifier

	// Threshold is the highest bot score admitted (TrustCaptcha's score: 0
	// looks human, 1 looks like a bot). Zero means DefaultThreshold (0.5).
	// A value outside [0, 1] or NaN panics at construction.
	Threshold float64

	// Failover decides what happens when the API cannot answer (see
	// FailoverPolicy). Nil means FailClosed: such requests are rejected.
	Failover FailoverPolicy

	// ErrorHandler writes the rejection. It is called with an error that
	// wraps one of the sentinel errors (see Reason and StatusCode) and must
	// not call the next handler. Nil means DefaultErrorHandler.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// MaxBodyBytes caps how much of a JSON or urlencoded body is read (larger
	// bodies get 413) and how much of a multipart form is held in memory.
	// Zero means DefaultMaxBodyBytes (1 MiB). Negative panics.
	MaxBodyBytes int64

	// MaxMultipartBytes caps a whole multipart/form-data body, files
	// included; larger bodies get 413. Zero means DefaultMaxMultipartBytes
	// (32 MiB); a value below MaxBodyBytes is raised to it. Negative panics.
	MaxMultipartBytes int64

	// TokenField is the form field and top-level JSON member that carries the
	// token. Empty means DefaultTokenField ("tc-verification-token"); set it
	// when the widget's token-field-name attribute is set.
	TokenField string

	// TokenHeader is the request header that carries the token, read before
	// the body. Empty means DefaultTokenHeader ("X-TC-Verification-Token").
	TokenHeader string

	// Skip, when it returns true, lets the request through untouched and
	// unverified. Nil means nothing is skipped. SkipSafeMethods suits a
	// router group that serves both a page and its form's POST.
	Skip func(r *http.Request) bool

	// AllowedOrigins, when not empty, rejects a result whose Origin (the page
	// the widget ran on, such as "https://example.com") is not listed.
	// Entries are compared case-insensitively, without a trailing slash. Nil
	// means any origin.
	AllowedOrigins []string

	// MatchClientIP, when true, rejects a result whose IPAddress (the address
	// that solved the CAPTCHA) is not the request's client IP. The client IP
	// is the connection's address, or, when that is a trusted proxy, the
	// right-most untrusted address of X-Forwarded-For. A result without an IP
	// address (minimal-data mode) is rejected. False means no binding.
	MatchClientIP bool

	// TrustedProxies lists the proxies (IP addresses or CIDR prefixes, such as
	// "10.0.0.0/8") whose X-Forwarded-For is believed by MatchClientIP. Nil
	// means none: X-Forwarded-For is ignored. An invalid entry panics.
	TrustedProxies []string

	// ReportOnly, when true, verifies and reports every decision but never
	// rejects on it: the next handler always runs and can read the decision
	// with DecisionFromContext. Oversized bodies still get 413, and a request
	// whose client went away still stops. False means decisions are enforced.
	ReportOnly bool

	// OnDecision, when set, is called once per verified request, before the
	// next handler or the rejection, with what was decided. It must be safe
	// for concurrent use and should be fast. The Decision never holds the
	// token or the key. Nil means no callback.
	OnDecision func(r *http.Request, d Decision)

	// Logger receives operator errors, logged at level Error: the API
	// rejected the key, the API answered outside the protocol, or a custom
	// Verifier failed with an unknown error. Nil means slog.Default(); to
	// silence it use slog.New(slog.DiscardHandler).
	Logger *slog.Logger
}

// Decision is what the middleware decided for one request. The next handler
// reads it with DecisionFromContext; OnDecision receives it.
type Decision struct {
	// Admitted reports that the request passed or was admitted by the
	// failover policy. In ReportOnly mode it is what would have happened.
	Admitted bool
	// Failover reports that the request was admitted by the failover policy
	// without a verified result.
	Failover bool
	// ReportOnly reports that the decision was not enforced.
	ReportOnly bool
	// Reason is the reason code (see Reason): ReasonPassed when the result
	// passed, otherwise the cause, also for failover admissions.
	Reason string
	// Err is the cause, nil when the result passed.
	Err error
	// Result is the API's result, nil when there was none.
	Result *Result
	// Score is Result.Score, or -1 when there was no result.
	Score float64
	// Status is the response status of a rejection (400 or 413); 0 when
	// admitted.
	Status int
	// Latency is the time spent reading the token and verifying it.
	Latency time.Duration
}

type decisionKey struct{}

// DecisionFromContext returns the decision RequireCaptcha made for the
// request whose context is ctx. ok is false outside the middleware or when
// Skip let the request through.
func DecisionFromContext(ctx context.Context) (d Decision, ok bool) {
	p, ok := ctx.Value(decisionKey{}).(*Decision)
	if !ok {
		return Decision{}, false
	}
	return *p, true
}

// ResultFromContext returns the verification result of a request that
// passed: ok is true only when the API's result passed every check. It is
// (nil, false) for a request admitted by failover, for a request that would
// have been rejected in ReportOnly mode (see DecisionFromContext), and
// outside the middleware.
func ResultFromContext(ctx context.Context) (*Result, bool) {
	d, ok := ctx.Value(decisionKey{}).(*Decision)
	if !ok || !d.Admitted || d.Failover || d.Result == nil {
		return nil, false
	}
	return d.Result, true
}

// AdmittedByFailover reports whether the request whose context is ctx was let
// through by the failover policy, without a verified result. A handler may
// then add friction (a second factor, moderation, a lower limit).
func AdmittedByFailover(ctx context.Context) bool {
	d, ok := ctx.Value(decisionKey{}).(*Decision)
	return ok && d.Admitted && d.Failover
}

// SkipSafeMethods is a ready Options.Skip: it skips GET, HEAD and OPTIONS
// requests, so one router group can serve a page and protect its form's POST.
func SkipSafeMethods(r *http.Request) bool {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return false
}

// middleware is Options normalised once; the request path only reads it.
type middleware struct {
	verifier     Verifier
	threshold    float64
	failover     FailoverPolicy
	errorHandler func(http.ResponseWriter, *http.Request, error)
	maxBody      int64
	maxMultipart int64
	tokenField   string
	tokenHeader  string
	skip         func(*http.Request) bool
	origins      map[string]bool
	matchIP      bool
	proxies      []netip.Prefix
	reportOnly   bool
	onDecision   func(*http.Request, Decision)
	logger       *slog.Logger
}

// RequireCaptcha returns middleware that lets a request through to the next
// handler only when it carries a verification token whose result passed with
// a bot score at or below the threshold (or the failover policy admits it).
// Otherwise it rejects with 400 (413 for an oversized body) through the
// ErrorHandler, before the next handler runs.
//
// It panics on a configuration mistake (nil Verifier, threshold outside
// [0, 1], negative size limits, invalid origins or proxies), as a mis-wired
// router would, with a message that names the field.
func RequireCaptcha(opts Options) func(http.Handler) http.Handler {
	m := newMiddleware(opts)
	return func(next http.Handler) http.Handler {
		if next == nil {
			panic("trustcaptcha: RequireCaptcha: nil next handler")
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m.serve(next, w, r)
		})
	}
}

func newMiddleware(o Options) *middleware {
	if o.Verifier == nil {
		panic("trustcaptcha: Options.Verifier is nil; pass a *Client from NewClient or a VerifierFunc")
	}
	if v, ok := o.Verifier.(VerifierFunc); ok && v == nil {
		panic("trustcaptcha: Options.Verifier is a nil VerifierFunc")
	}
	if math.IsNaN(o.Threshold) || o.Threshold < 0 || o.Threshold > 1 {
		panic(fmt.Sprintf("trustcaptcha: Options.Threshold %v is outside [0, 1]", o.Threshold))
	}
	if o.MaxBodyBytes < 0 {
		panic(fmt.Sprintf("trustcaptcha: Options.MaxBodyBytes %d is negative", o.MaxBodyBytes))
	}
	if o.MaxMultipartBytes < 0 {
		panic(fmt.Sprintf("trustcaptcha: Options.MaxMultipartBytes %d is negative", o.MaxMultipartBytes))
	}
	m := &middleware{
		verifier:     o.Verifier,
		threshold:    orDefault(o.Threshold, DefaultThreshold),
		failover:     o.Failover,
		errorHandler: o.ErrorHandler,
		maxBody:      orDefault(o.MaxBodyBytes, DefaultMaxBodyBytes),
		maxMultipart: orDefault(o.MaxMultipartBytes, DefaultMaxMultipartBytes),
		tokenField:   orDefault(o.TokenField, DefaultTokenField),
		tokenHeader:  http.CanonicalHeaderKey(orDefault(o.TokenHeader, DefaultTokenHeader)),
		skip:         o.Skip,
		matchIP:      o.MatchClientIP,
		reportOnly:   o.ReportOnly,
		onDecision:   o.OnDecision,
		logger:       o.Logger,
	}
	if m.failover == nil {
		m.failover = FailClosed
	}
	if m.errorHandler == nil {
		m.errorHandler = DefaultErrorHandler
	}
	if m.logger == nil {
		m.logger = slog.Default()
	}
	if m.maxMultipart < m.maxBody {
		m.maxMultipart = m.maxBody
	}
	if len(o.AllowedOrigins) > 0 {
		m.origins = make(map[string]bool, len(o.AllowedOrigins))
		for _, s := range o.AllowedOrigins {
			u, err := url.Parse(s)
			if err != nil || u.Scheme == "" || u.Host == "" || (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
				panic(fmt.Sprintf("trustcaptcha: Options.AllowedOrigins: %q is not an origin such as https://example.com", s))
			}
			m.origins[normalizeOrigin(s)] = true
		}
	}
	for _, s := range o.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				panic(fmt.Sprintf("trustcaptcha: Options.TrustedProxies: %q is neither an IP address nor a CIDR prefix", s))
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		m.proxies = append(m.proxies, p.Masked())
	}
	return m
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func normalizeOrigin(s string) string {
	return strings.TrimRight(strings.ToLower(strings.TrimSpace(s)), "/")
}

func (m *middleware) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if m.skip != nil && m.skip(r) {
		next.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	d := m.decide(w, r)
	d.Latency = time.Since(start)
	if d.Result != nil {
		d.Score = d.Result.Score
	} else {
		d.Score = -1
	}
	canceled := r.Context().Err() != nil
	if canceled && (d.Err == nil || Reason(d.Err) != ReasonRequestCanceled) {
		// The client went away before the decision was made: whatever the
		// verifier said, the next handler must not run.
		d = Decision{Reason: ReasonRequestCanceled, Err: fmt.Errorf("trustcaptcha: request abandoned: %w", r.Context().Err()),
			Result: d.Result, Score: d.Score, Latency: d.Latency}
	}
	if !d.Admitted {
		d.Status = StatusCode(d.Err)
	}
	d.ReportOnly = m.reportOnly
	if m.onDecision != nil {
		m.onDecision(r, d)
	}
	if d.Err != nil && operatorError(d.Err) {
		m.logger.LogAttrs(r.Context(), slog.LevelError, "trustcaptcha: CAPTCHA verification cannot work; check the API key and host",
			slog.String("reason", d.Reason), slog.String("error", d.Err.Error()),
			slog.String("method", r.Method), slog.String("path", r.URL.Path))
	}
	enforced := !m.reportOnly || d.Status == http.StatusRequestEntityTooLarge || canceled
	if !d.Admitted && enforced {
		m.errorHandler(w, r, d.Err)
		return
	}
	next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), decisionKey{}, &d)))
}

// decide runs extraction, verification and the checks; Score, Status,
// Latency and ReportOnly are filled in by serve.
func (m *middleware) decide(w http.ResponseWriter, r *http.Request) Decision {
	tok, err := m.extractToken(w, r)
	if err != nil {
		return reject(err, nil)
	}
	res, err := m.verifier.Verify(r.Context(), tok)
	if err != nil {
		switch Reason(err) {
		case ReasonServerUnreachable, ReasonClientFailover:
			if m.failover.Admit(r, err) {
				return Decision{Admitted: true, Failover: true, Reason: Reason(err), Err: err}
			}
			if limited(m.failover, r, err) {
				err = fmt.Errorf("%w: %w", ErrFailoverLimitReached, err)
			}
		}
		return reject(err, nil)
	}
	if res == nil {
		return reject(fmt.Errorf("%w: the verifier returned no result", ErrUnexpectedResponse), nil)
	}
	if !res.VerificationPassed {
		return reject(ErrVerificationFailed, res)
	}
	if !(res.Score <= m.threshold) { // NaN fails too
		return reject(fmt.Errorf("%w: %.2f > %.2f", ErrScoreTooHigh, res.Score, m.threshold), res)
	}
	if m.origins != nil && !m.origins[normalizeOrigin(res.Origin)] {
		return reject(ErrOriginNotAllowed, res)
	}
	if m.matchIP && !m.ipMatches(r, res.IPAddress) {
		return reject(ErrIPMismatch, res)
	}
	return Decision{Admitted: true, Reason: ReasonPassed, Result: res}
}

func reject(err error, res *Result) Decision {
	return Decision{Reason: Reason(err), Err: err, Result: res}
}

// ipMatches reports whether solver, the result's IP address, is the
// request's client IP.
func (m *middleware) ipMatches(r *http.Request, solver string) bool {
	want, err := netip.ParseAddr(strings.TrimSpace(solver))
	if err != nil {
		return false
	}
	got, ok := m.clientIP(r)
	return ok && got == want.Unmap().WithZone("")
}

// clientIP resolves the client's address: the connection's peer, or, while
// that peer is a trusted proxy, the next address to the left in
// X-Forwarded-For. An unparsable address anywhere on that path is a failure.
func (m *middleware) clientIP(r *http.Request) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	ip = ip.Unmap().WithZone("")
	if !m.trusted(ip) {
		return ip, true
	}
	hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.TrimSpace(hops[i])
		if h == "" {
			continue
		}
		a, err := netip.ParseAddr(h)
		if err != nil {
			return netip.Addr{}, false
		}
		ip = a.Unmap().WithZone("")
		if !m.trusted(ip) {
			return ip, true
		}
	}
	return ip, true
}

func (m *middleware) trusted(ip netip.Addr) bool {
	for _, p := range m.proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// StatusCode returns the HTTP status of a rejection for err: 413 for
// ErrBodyTooLarge, 400 for everything else (nil included).
func StatusCode(err error) int {
	if errors.Is(err, ErrBodyTooLarge) {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}
