package trustcaptcha

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"mime/multipart"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTokenField is the form field and JSON member that the widget fills
// with the token, and where the middleware looks for it unless
// Options.TokenField names another.
const DefaultTokenField = "tc-verification-token"

// The defaults of the Options fields, used where a field is zero.
const (
	defaultThreshold         = 0.5 // TrustCaptcha's own recommendation
	defaultTokenHeader       = "X-TC-Verification-Token"
	defaultMaxBodyBytes      = 1 << 20  // 1 MiB
	defaultMaxMultipartBytes = 32 << 20 // 32 MiB, as net/http's FormValue
)

// Options configure RequireCaptcha. Only Verifier is required; the zero
// value of every other field is the recommended default, which its comment
// names.
type Options struct {
	// Verifier fetches the result for a token, usually a *Client. It is
	// required: RequireCaptcha panics without one.
	Verifier Verifier

	// Threshold is the highest bot score admitted (0 looks human, 1 looks
	// like a bot). Zero means 0.5, TrustCaptcha's recommendation. A value
	// outside [0, 1], or NaN, panics.
	Threshold float64

	// Failover decides whether a request is admitted when the API cannot
	// answer. Nil means FailClosed: such a request is rejected.
	Failover FailoverPolicy

	// ErrorHandler writes the answer to a rejected request. Its err is the
	// Decision's Err: match the cause with errors.Is, or name it with
	// Reason. Its request's context holds the Decision (DecisionFromContext).
	// It must not call the next handler. Nil means DefaultErrorHandler.
	ErrorHandler func(w http.ResponseWriter, r *http.Request, err error)

	// MaxBodyBytes caps a JSON or urlencoded body, and the text fields of a
	// multipart form together. A body over it gets 413. Zero means 1 MiB; a
	// negative value panics.
	MaxBodyBytes int64

	// MaxMultipartBytes caps a whole multipart body, files included, and is
	// raised to MaxBodyBytes if it is smaller. Beyond it the request gets
	// 413. Zero means 32 MiB; a negative value panics.
	//
	// The middleware reads a multipart body to its end before it finds the
	// token, into a temporary file when it is larger than 256 KiB, so that
	// the next handler reads the same bytes. The file is removed when the
	// request ends. A form also gets 413 beyond 1,000 parts or 10,000 part
	// header lines (net/http's own limits), and when its parts are so many
	// and so small that reading them would cost far more memory than the
	// form has bytes. A form of hundreds of tiny fields is protected by
	// sending its token in TokenHeader instead.
	MaxMultipartBytes int64

	// TokenField is the form field and top-level JSON member holding the
	// token, as the widget's token-field-name. Empty means
	// DefaultTokenField.
	TokenField string

	// TokenHeader is the request header holding the token, read before the
	// body. Empty means "X-TC-Verification-Token".
	TokenHeader string

	// Skip lets the requests it returns true for through, unverified. Nil
	// skips nothing. With SkipSafeMethods, one router group can serve the
	// page (GET) unchecked and still protect the form's POST.
	Skip func(r *http.Request) bool

	// Required, when set, says whether a request must carry a solved
	// CAPTCHA; a StepUp's Required is made for it. Nil means every request
	// must, with a token that verifies.
	//
	// It is asked once, for a request that carries no token and whose body
	// is absent or was read to its end (a JSON body that is not an object, a
	// form without the token field). A request it returns false for is
	// admitted unverified, without an API call or a claim: its Decision has
	// the reason "not-required", no Result and no Err. A request with a
	// token is verified as always, and a bad one is still rejected. A body
	// over a limit, a multipart form cut off or malformed, or a body of a
	// type or encoding that carries no token is rejected without asking.
	// Skip is asked first.
	Required func(r *http.Request) bool

	// AllowedOrigins, when not empty, rejects a result whose Origin (such as
	// "https://example.com") is not listed. Origins are compared without
	// letter case and without a trailing slash. Nil accepts any origin.
	AllowedOrigins []string

	// MatchClientIP, when true, rejects a result whose IPAddress is not the
	// request's client IP: the connection's address, or behind
	// TrustedProxies the right-most untrusted address of X-Forwarded-For. A
	// result in minimal data mode has no IPAddress, and is rejected too.
	MatchClientIP bool

	// TrustedProxies lists the proxies, as addresses or CIDR prefixes, whose
	// X-Forwarded-For header MatchClientIP believes. Nil means none. An
	// invalid entry panics.
	TrustedProxies []string

	// ReportOnly, when true, decides and reports but does not reject: the
	// next handler reads the decision with DecisionFromContext. A body over
	// a limit and a client that went away are still rejected.
	ReportOnly bool

	// OnDecision, when set, is called with each decision before the next
	// handler or the rejection, never with the token or the key. It must be
	// safe for concurrent use and fast.
	OnDecision func(r *http.Request, d Decision)

	// ReplayStore makes each solved CAPTCHA admit one request. It claims
	// each verification that passed every other check (also one admitted on
	// failover) until its result expires, so a second request with it is
	// rejected with ErrTokenReused; a store error rejects with
	// ErrReplayCheckUnavailable. Nil means one MemoryStore shared by the
	// whole process; a fleet shares one on Redis (package redisstore).
	ReplayStore ReplayStore

	// AllowReplay, when true, turns the single-use check off: the retrieval
	// limit set in the TrustCaptcha dashboard alone decides how often a
	// verification admits a request.
	AllowReplay bool

	// Logger gets operator errors at level Error: a rejected key, an answer
	// outside the protocol, a failed ReplayStore, a Verifier's unknown
	// error. Each reason is logged the first time, then at most once a
	// minute with the number suppressed meanwhile. Every rejection is logged
	// at level Debug. Nil means slog.Default().
	Logger *slog.Logger
}

// middleware is Options normalised once, and what is derived from them.
type middleware struct {
	Options
	extract *extraction // where and how the token is read
	origins map[string]bool
	proxies []netip.Prefix
	opLog   operatorLog
}

// RequireCaptcha returns middleware that lets a request through only when
// its token's result passed with a bot score at or below the threshold, or
// the failover policy admits it, and otherwise rejects it through the
// ErrorHandler. A configuration mistake panics, naming the field.
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

// newMiddleware checks o, panicking on a wiring mistake, and fills in the
// defaults of its zero fields.
func newMiddleware(o Options) *middleware {
	if isNil(o.Verifier) {
		panic("trustcaptcha: Options.Verifier is nil; " +
			"pass a *Client from NewClient (check its error) or a VerifierFunc")
	}
	if math.IsNaN(o.Threshold) || o.Threshold < 0 || o.Threshold > 1 {
		panic(fmt.Sprintf("trustcaptcha: Options.Threshold %v is outside [0, 1]", o.Threshold))
	}
	if o.MaxBodyBytes < 0 || o.MaxMultipartBytes < 0 {
		panic(fmt.Sprintf("trustcaptcha: Options.MaxBodyBytes %d or MaxMultipartBytes %d is negative",
			o.MaxBodyBytes, o.MaxMultipartBytes))
	}
	o.Threshold = cmp.Or(o.Threshold, defaultThreshold)
	o.Failover = cmp.Or(o.Failover, FailClosed)
	o.MaxBodyBytes = cmp.Or(o.MaxBodyBytes, defaultMaxBodyBytes)
	o.MaxMultipartBytes = max(cmp.Or(o.MaxMultipartBytes, defaultMaxMultipartBytes), o.MaxBodyBytes)
	o.TokenField = cmp.Or(o.TokenField, DefaultTokenField)
	o.TokenHeader = cmp.Or(o.TokenHeader, defaultTokenHeader)
	o.Logger = cmp.Or(o.Logger, slog.Default())
	if o.ErrorHandler == nil {
		o.ErrorHandler = DefaultErrorHandler
	}
	if o.ReplayStore == nil && !o.AllowReplay {
		o.ReplayStore = defaultReplayStore()
	}
	m := &middleware{Options: o, proxies: parseProxies("Options.TrustedProxies", o.TrustedProxies),
		extract: newExtraction(o.TokenField, o.TokenHeader, o.MaxBodyBytes, o.MaxMultipartBytes),
		opLog:   operatorLog{now: time.Now, last: map[string]time.Time{}, suppressed: map[string]int{}}}
	if len(o.AllowedOrigins) > 0 {
		m.origins = make(map[string]bool, len(o.AllowedOrigins))
		for _, s := range o.AllowedOrigins {
			u, err := url.Parse(s)
			bare := err == nil && (u.Path == "" || u.Path == "/") && u.RawQuery == ""
			if !bare || u.Scheme == "" || u.Host == "" {
				panic(fmt.Sprintf("trustcaptcha: Options.AllowedOrigins: %q is not an origin "+
					"such as https://example.com", s))
			}
			m.origins[normalizeOrigin(s)] = true
		}
	}
	return m
}

// isNil reports whether v is nil or holds a nil pointer, func, map, channel
// or slice, such as the nil *Client an ignored NewClient error leaves.
func isNil(v any) bool {
	if v == nil {
		return true
	}
	switch rv := reflect.ValueOf(v); rv.Kind() {
	case reflect.Pointer, reflect.Func, reflect.Map, reflect.Chan, reflect.Slice, reflect.Interface:
		return rv.IsNil()
	}
	return false
}

func normalizeOrigin(s string) string {
	return strings.TrimRight(strings.ToLower(strings.TrimSpace(s)), "/")
}

// serve is the whole life of one request: extract the token, verify it,
// judge the result (or the outage), claim it, then answer: the next handler
// or the rejection.
func (m *middleware) serve(next http.Handler, w http.ResponseWriter, r *http.Request) {
	if m.Skip != nil && m.Skip(r) {
		next.ServeHTTP(w, r)
		return
	}
	start := time.Now()
	preParsed := r.MultipartForm // parsed before us: its owner removes its files

	// Extract. The body is read, and r.Body set to read the same bytes
	// again; a large multipart body is spooled to a temporary file, which
	// release removes once the next handler has returned.
	raw, release, err := m.extract.token(r)
	defer release()

	// Verify, judge and claim.
	v := verdict{err: err, cause: causeOf(err)}
	switch {
	case err == nil:
		v = m.check(r, raw)
	case m.Required != nil && isNotInBody(err) && !m.Required(r):
		v = verdict{cause: &notRequiredCause} // admitted unverified
	}
	d := m.decide(r, v, time.Since(start))
	if m.OnDecision != nil {
		m.OnDecision(r, d)
	}
	m.log(r, d)

	// Answer. ReportOnly hands on everything but what cannot be handed on:
	// an oversized body, which was not read whole, and a request nobody
	// waits for.
	r2 := r.WithContext(context.WithValue(r.Context(), decisionKey{}, &d))
	// net/http removes the temporary files of a multipart form parsed on its
	// own request only, and r2 (like r behind a router that copies the
	// request) is not that one. So remove the files of every form parsed
	// while this middleware held the request: by OnDecision on r, by the
	// ErrorHandler (which may re-render the form) or the next handler on r2,
	// also when one panics; the panic goes on up unchanged.
	defer func() {
		for _, f := range []*multipart.Form{r.MultipartForm, r2.MultipartForm} {
			if f != nil && f != preParsed {
				_ = f.RemoveAll()
			}
		}
	}()
	if !d.Admitted && (!m.ReportOnly || d.cause.enforced) {
		m.ErrorHandler(w, r2, d.Err)
		return
	}
	next.ServeHTTP(w, r2)
}

// log logs an operator error at level Error (limited by opLog), every
// rejection and every admission on a result the API decided in its gateway
// failover at level Debug, and the first result of minimal data mode in the
// process at level Warn.
func (m *middleware) log(r *http.Request, d Decision) {
	ctx := r.Context()
	minimal := d.Result != nil && d.Result.MinimalDataModeEnabled
	if minimal && minimalDataWarned.CompareAndSwap(false, true) {
		m.Logger.LogAttrs(ctx, slog.LevelWarn, "trustcaptcha: this site runs in minimal data mode, "+
			"where the bot score is always 0: Options.Threshold has no effect (logged once per process)",
			slog.Float64("threshold", m.Threshold))
	}
	gateway := d.Result != nil && d.Result.GatewayFailoverActive
	if d.Err == nil {
		if gateway {
			m.Logger.LogAttrs(ctx, slog.LevelDebug,
				"trustcaptcha: request admitted on a result the API decided in its gateway failover",
				slog.Bool("gateway_failover", true), slog.String("decision_type", d.Result.DecisionType),
				slog.String("method", r.Method), slog.String("path", r.URL.Path))
		}
		return
	}
	attrs := []slog.Attr{slog.String("reason", d.Reason), slog.Any("error", d.Err),
		slog.String("method", r.Method), slog.String("path", r.URL.Path)}
	if gateway {
		attrs = append(attrs, slog.Bool("gateway_failover", true))
	}
	if d.cause.aud == operator {
		if ok, suppressed := m.opLog.allow(d.Reason); ok {
			m.Logger.LogAttrs(ctx, slog.LevelError,
				"trustcaptcha: CAPTCHA verification cannot work; check the configuration",
				append(attrs, slog.Int("suppressed", suppressed))...)
		}
	}
	if !d.Admitted {
		m.Logger.LogAttrs(ctx, slog.LevelDebug, "trustcaptcha: request rejected", attrs...)
	}
}

// minimalDataWarned is set once the process has warned about minimal data
// mode: the warning is about the site's configuration, not a request.
var minimalDataWarned atomic.Bool

// operatorLog limits the operator errors logged to the first of each reason,
// then one a minute, and counts those it held back meanwhile. Its maps are
// keyed by reason codes, a few dozen at most.
type operatorLog struct {
	now        func() time.Time
	mu         sync.Mutex
	last       map[string]time.Time
	suppressed map[string]int
}

// allow reports whether an error of reason is logged now, and how many were
// held back since the last one that was.
func (l *operatorLog) allow(reason string) (ok bool, suppressed int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	if last, seen := l.last[reason]; seen && now.Sub(last) < time.Minute {
		l.suppressed[reason]++
		return false, 0
	}
	suppressed = l.suppressed[reason]
	l.last[reason], l.suppressed[reason] = now, 0
	return true, suppressed
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
