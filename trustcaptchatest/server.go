// Package trustcaptchatest provides a fake TrustCaptcha API for tests and
// demos: an httptest.Server on 127.0.0.1 that speaks the verification-result
// protocol the Client uses and the two endpoints the browser widget uses.
//
// A test starts one, registers verifications, and points the Client (and,
// for browser tests, the widget's api-url) at it:
//
//	api := trustcaptchatest.NewServer()
//	defer api.Close()
//	client := api.Client() // trustcaptcha.NewClient(api.APIKey(), trustcaptcha.WithAPIHost(api.URL))
//	token := api.Human()   // a passed verification with bot score 0.1
//	res, err := client.Verify(ctx, token)
//
// Any result field can be set with Add; any answer can be forced per token
// (ForceStatus, Delay, Hang, Garbage) or for all (Down). Requests() lists
// what the fake received.
//
// The verification IDs the official TrustCaptcha SDKs' own test suites use
// are reserved, so code (or an SDK in another language) written against them
// gets the same answers here: PassingVerificationID passes,
// NotFoundVerificationID is unknown (404), NotFinishedVerificationID is not
// finished (423), ExpiredVerificationID has expired (410) and
// RetrievalLimitVerificationID has reached its retrieval limit (429). They
// answer for the Server's key and for any key of the form the dashboard
// issues ("ak_" and more); any other key gets 403, as the SDKs' suites expect.
//
// The same fake runs as a command for any stack's end-to-end tests:
// go run github.com/captchakit/trustcaptcha/cmd/trustcaptcha-fake.
package trustcaptchatest

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/internal/uuid"
)

// Defaults of a new Server.
const (
	// DefaultAPIKey is the secret key a Server accepts unless WithAPIKey
	// says otherwise.
	DefaultAPIKey = "trustcaptchatest-secret-key"
	// DefaultSiteKey is the site key the widget endpoints accept.
	DefaultSiteKey = "6f1a7c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
	// DefaultDifficulty is the proof-of-work difficulty, in leading zero
	// bits, of the widget endpoints: about 256 hashes per task.
	DefaultDifficulty = 8

	// PassingVerificationID is registered as a passed verification with
	// bot score 0.
	PassingVerificationID = "00000000-0000-0000-0000-000000000000"
	// NotFoundVerificationID is never registered: the fake answers 404.
	NotFoundVerificationID = "00000000-0000-0000-0000-000000000001"
	// NotFinishedVerificationID is registered as not finished: 423.
	NotFinishedVerificationID = "00000000-0000-0000-0000-000000000002"
	// ExpiredVerificationID is registered as a result that has expired: 410.
	ExpiredVerificationID = "00000000-0000-0000-0000-000000000003"
	// RetrievalLimitVerificationID is registered as a result fetched too
	// often: 429.
	RetrievalLimitVerificationID = "00000000-0000-0000-0000-000000000004"

	// MaxVerifications is how many verifications a Server remembers besides
	// the reserved ones: past it, each new one makes it forget the oldest,
	// whose token then answers 404.
	MaxVerifications = 100_000

	// fallbackCaptchaID is the captchaId of results when the site key is not
	// a UUID: the real API always sends one, and the Python SDK needs it.
	fallbackCaptchaID = "6f1a7c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5c"
)

// Request is one request the Server received.
type Request struct {
	Method   string
	Path     string
	RawQuery string
	Header   http.Header
	// VerificationID is the ID in a result request's path, if any.
	VerificationID string
}

// Server is a fake TrustCaptcha API. Make one with NewServer and Close it when
// done. All methods are safe for concurrent use.
type Server struct {
	// URL is the server's base URL, such as http://127.0.0.1:41234: the API
	// host for WithAPIHost and the widget's api-url.
	URL string

	srv        *httptest.Server
	apiKey     string
	siteKey    string
	difficulty int
	tasks      int
	limit      int
	listener   net.Listener // from WithListener; nil for a port of 127.0.0.1
	log        io.Writer    // from WithLog; nil for none
	closed     chan struct{}
	closeOnce  sync.Once
	conns      atomic.Int64

	mu       sync.Mutex
	entries  map[string]*entry
	order    []string // the IDs of entries, oldest first, reserved ones left out
	requests []Request
	sizes    []int // requestSize of each of requests
	logBytes int   // their sum
	down     int
	widget   trustcaptcha.Result
}

type entry struct {
	result   trustcaptcha.Result
	status   int
	delay    time.Duration
	hang     bool
	garbage  []byte
	fetches  int
	finished bool
	tasks    []task // the open proof-of-work challenge of a widget verification
}

type task struct {
	Number int    `json:"number"`
	Input  string `json:"input"`
}

// Option configures a Server.
type Option func(*Server)

// WithAPIKey sets the secret key the Server accepts (default DefaultAPIKey).
func WithAPIKey(key string) Option { return func(s *Server) { s.apiKey = key } }

// WithSiteKey sets the site key the widget endpoints accept (default DefaultSiteKey).
func WithSiteKey(key string) Option { return func(s *Server) { s.siteKey = key } }

// WithDifficulty sets the widget proof-of-work difficulty in leading zero
// bits (default DefaultDifficulty); 0 accepts any nonce.
func WithDifficulty(bits int) Option { return func(s *Server) { s.difficulty = bits } }

// WithRetrievalLimit makes the Server answer 429 once a result was fetched n
// times. Zero (the default) means no limit.
func WithRetrievalLimit(n int) Option { return func(s *Server) { s.limit = n } }

// WithListener makes the Server serve on ln, such as a listener on a fixed
// port, instead of a free port of 127.0.0.1 (the default). Close closes ln.
func WithListener(ln net.Listener) Option { return func(s *Server) { s.listener = ln } }

// WithLog makes the Server write one line to w for each request it answers:
// the time, method, path, status and duration. It never writes a header, so
// no key. Nil (the default) logs nothing.
func WithLog(w io.Writer) Option { return func(s *Server) { s.log = w } }

// NewServer starts a fake TrustCaptcha API on 127.0.0.1.
func NewServer(opts ...Option) *Server {
	s := &Server{
		apiKey:     DefaultAPIKey,
		siteKey:    DefaultSiteKey,
		difficulty: DefaultDifficulty,
		tasks:      2,
		closed:     make(chan struct{}),
		entries:    map[string]*entry{},
		widget:     trustcaptcha.Result{VerificationPassed: true, Score: 0.1, DecisionType: "RISK_SCORE", DecisionAction: "PASS", RiskScoringEnabled: true},
	}
	for _, o := range opts {
		o(s)
	}
	now := time.Now().UTC()
	s.entries[PassingVerificationID] = &entry{finished: true, result: s.fill(trustcaptcha.Result{VerificationID: PassingVerificationID, VerificationPassed: true}, now)}
	s.entries[NotFinishedVerificationID] = &entry{result: trustcaptcha.Result{VerificationID: NotFinishedVerificationID}}
	s.entries[ExpiredVerificationID] = &entry{finished: true, result: s.fill(trustcaptcha.Result{VerificationID: ExpiredVerificationID,
		VerificationPassed: true, ResultExpiresAt: now.Add(-time.Minute)}, now)}
	s.entries[RetrievalLimitVerificationID] = &entry{finished: true, status: http.StatusTooManyRequests,
		result: s.fill(trustcaptcha.Result{VerificationID: RetrievalLimitVerificationID, VerificationPassed: true}, now)}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/verifications/{id}/results", s.serveResult)
	mux.HandleFunc("POST /v2/verifications", s.serveCreate)
	mux.HandleFunc("POST /v2/verifications/{id}/challenges", s.serveChallenge)
	s.control(mux)
	s.srv = httptest.NewUnstartedServer(s.logRequests(s.record(cors(mux))))
	if s.listener != nil {
		s.srv.Listener.Close()
		s.srv.Listener = s.listener
	}
	s.srv.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			s.conns.Add(1)
		}
	}
	s.srv.Start()
	s.URL = s.srv.URL
	return s
}

// Close shuts the server down; hanging and delayed answers end at once.
func (s *Server) Close() {
	s.closeOnce.Do(func() { close(s.closed) })
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// APIKey returns the secret key the Server accepts.
func (s *Server) APIKey() string { return s.apiKey }

// SiteKey returns the site key the widget endpoints accept.
func (s *Server) SiteKey() string { return s.siteKey }

// Client returns a trustcaptcha.Client for this Server (its key and URL),
// with opts applied after those. It panics if an option is invalid.
func (s *Server) Client(opts ...trustcaptcha.ClientOption) *trustcaptcha.Client {
	c, err := trustcaptcha.NewClient(s.apiKey, append([]trustcaptcha.ClientOption{trustcaptcha.WithAPIHost(s.URL)}, opts...)...)
	if err != nil {
		panic(err)
	}
	return c
}

// Add registers a finished verification with result res and returns its
// token. An empty VerificationID gets a random one; missing timestamps are
// filled in (started and finished now, expiring in 5 minutes).
func (s *Server) Add(res trustcaptcha.Result) string {
	if res.VerificationID == "" {
		res.VerificationID = newUUID()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remember(strings.ToLower(res.VerificationID), &entry{finished: true, result: s.fill(res, time.Now().UTC())})
	return trustcaptcha.Token{VerificationID: res.VerificationID}.Encode()
}

// remember stores e under id, forgetting the oldest verification past
// MaxVerifications. The caller holds s.mu.
func (s *Server) remember(id string, e *entry) {
	if _, known := s.entries[id]; !known && !reserved[id] {
		s.order = append(s.order, id)
		if len(s.order) > MaxVerifications {
			delete(s.entries, s.order[0])
			s.order[0] = ""
			s.order = s.order[1:]
		}
	}
	s.entries[id] = e
}

func (s *Server) fill(res trustcaptcha.Result, now time.Time) trustcaptcha.Result {
	if res.CaptchaID == "" {
		res.CaptchaID = s.captchaID()
	}
	if res.VerificationStartedAt.IsZero() {
		res.VerificationStartedAt = now.Add(-2 * time.Second)
	}
	if res.VerificationFinishedAt.IsZero() {
		res.VerificationFinishedAt = now
	}
	if res.ResultExpiresAt.IsZero() {
		res.ResultExpiresAt = now.Add(5 * time.Minute)
	}
	return res
}

// captchaID is the captchaId of the results the Server makes: its site key,
// which is a UUID unless WithSiteKey set another.
func (s *Server) captchaID() string {
	if uuid.Valid(s.siteKey) {
		return strings.ToLower(s.siteKey)
	}
	return fallbackCaptchaID
}

// Human registers a passed verification with bot score 0.1 and returns its token.
func (s *Server) Human() string {
	return s.Add(trustcaptcha.Result{VerificationPassed: true, Score: 0.1})
}

// Bot registers a passed verification with bot score 0.9 (above the default
// threshold) and returns its token.
func (s *Server) Bot() string {
	return s.Add(trustcaptcha.Result{VerificationPassed: true, Score: 0.9})
}

// Failed registers a verification that did not pass and returns its token.
func (s *Server) Failed() string {
	return s.Add(trustcaptcha.Result{VerificationPassed: false, Score: 1})
}

// Token returns the token of a verification ID (registered or not).
func Token(verificationID string) string {
	return trustcaptcha.Token{VerificationID: verificationID}.Encode()
}

// ClientFailoverToken returns a token as the widget makes it when the browser
// cannot reach the API: a fresh ID, clientFailover true, expiring in 15
// minutes. The Server, having seen no outage, answers 412 for it to a fetch
// with ?clientFailover=true, as the real API does and as the Client sends
// for such a token; without the query it answers 404, as for any unknown
// verification.
func ClientFailoverToken() string {
	return trustcaptcha.Token{VerificationID: newUUID(), ClientFailover: true, ExpiresAt: time.Now().Add(15 * time.Minute)}.Encode()
}

// ForceStatus makes result requests for token answer with status code and
// an empty JSON body. 0 undoes it.
func (s *Server) ForceStatus(token string, code int) {
	s.with(token, func(e *entry) { e.status = code })
}

// Delay makes result requests for token wait d before answering.
func (s *Server) Delay(token string, d time.Duration) { s.with(token, func(e *entry) { e.delay = d }) }

// Hang makes result requests for token never answer: they end when the
// client gives up or the Server closes.
func (s *Server) Hang(token string) { s.with(token, func(e *entry) { e.hang = true }) }

// Garbage makes result requests for token answer 200 with body as is.
func (s *Server) Garbage(token string, body []byte) {
	s.with(token, func(e *entry) { e.garbage = body })
}

// Down makes every result request answer status code (such as 503), as an
// API in trouble would; 0 restores normal answers.
func (s *Server) Down(code int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.down = code
}

// SetWidgetResult sets the result a verification made through the widget
// endpoints gets (default: passed, bot score 0.1). Its VerificationID,
// Origin and IPAddress are filled in from the widget's requests.
func (s *Server) SetWidgetResult(res trustcaptcha.Result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.widget = res
}

// with applies f to token's verification, registering an empty finished
// one if it is unknown. It panics on a token that is not the widget's format.
func (s *Server) with(token string, f func(*entry)) {
	t, err := trustcaptcha.ParseToken(token)
	if err != nil {
		panic(fmt.Sprintf("trustcaptchatest: %v", err))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.entries[t.VerificationID]
	if !ok {
		e = &entry{finished: true, result: s.fill(trustcaptcha.Result{VerificationID: t.VerificationID}, time.Now().UTC())}
		s.remember(t.VerificationID, e)
	}
	f(e)
}

// The request log's bounds, so a long benchmark or soak test against the
// fake, or requests with large headers, do not grow it without end.
const (
	maxRequestLog      = 100_000  // entries
	maxRequestLogBytes = 32 << 20 // of methods, paths, queries and headers, about
)

// Requests returns a copy of the requests the Server received, in order: all
// of them, or, past 100,000 requests or 32 MiB of them (headers counted),
// the most recent ones, at least half of either bound.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Connections returns how many TCP connections the Server has accepted: a
// client that reuses its connections opens few.
func (s *Server) Connections() int { return int(s.conns.Load()) }

// Fetches returns how often the result of token was requested.
func (s *Server) Fetches(token string) int {
	t, err := trustcaptcha.ParseToken(token)
	if err != nil {
		return 0
	}
	n := 0
	for _, r := range s.Requests() {
		if r.VerificationID == t.VerificationID {
			n++
		}
	}
	return n
}

func (s *Server) record(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := Request{Method: r.Method, Path: r.URL.Path, RawQuery: r.URL.RawQuery, Header: r.Header.Clone()}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/v2/verifications/"); ok {
			if id, ok := strings.CutSuffix(rest, "/results"); ok {
				req.VerificationID = strings.ToLower(id)
			}
		}
		size := requestSize(req)
		s.mu.Lock()
		for len(s.requests) > 0 &&
			(len(s.requests) == maxRequestLog || s.logBytes+size > maxRequestLogBytes) {
			s.dropOldestHalf()
		}
		s.requests, s.sizes = append(s.requests, req), append(s.sizes, size)
		s.logBytes += size
		s.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// dropOldestHalf forgets the older half of the request log, at least one
// entry, at once (so a full log costs one copy per half of it, not one per
// request). The caller holds s.mu.
func (s *Server) dropOldestHalf() {
	n := max(len(s.requests)/2, 1)
	for _, b := range s.sizes[:n] {
		s.logBytes -= b
	}
	s.requests = append(s.requests[:0], s.requests[n:]...)
	s.sizes = append(s.sizes[:0], s.sizes[n:]...)
}

// requestSize is about what an entry of the request log holds, in bytes.
func requestSize(r Request) int {
	n := 64 + len(r.Method) + len(r.Path) + len(r.RawQuery) + len(r.VerificationID)
	for k, vs := range r.Header {
		n += len(k)
		for _, v := range vs {
			n += 16 + len(v)
		}
	}
	return n
}

// cors lets the widget call the fake from any page, and guards the control
// endpoints (see control).
func cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		o := r.Header.Get("Origin")
		isControl := strings.HasPrefix(r.URL.Path, controlPrefix)
		if isControl && o != "" && !loopbackOrigin(o) {
			writeJSON(w, http.StatusForbidden, map[string]string{"error": "the control endpoints take requests " +
				"without an Origin (curl, a test suite) or from a loopback origin only"})
			return
		}
		if o != "" {
			hd.Set("Access-Control-Allow-Origin", o)
			hd.Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			hd.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			hd.Set("Access-Control-Allow-Headers", "Content-Type")
			hd.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// loopbackOrigin reports whether origin is a page served from this machine:
// http on 127.0.0.1, localhost or [::1], any port. A DNS-rebound page sends
// its own host name, which is none of these.
func loopbackOrigin(origin string) bool {
	u, err := url.Parse(origin)
	if err != nil || u.Scheme != "http" || u.Path != "" || u.RawQuery != "" || u.User != nil {
		return false
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1":
		return true
	}
	return false
}

// logRequests writes a line per request to s.log (see WithLog).
func (s *Server) logRequests(h http.Handler) http.Handler {
	if s.log == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		status := "no answer" // a hanging or dropped answer panics with http.ErrAbortHandler
		defer func() {
			if sw.status != 0 {
				status = strconv.Itoa(sw.status)
			}
			fmt.Fprintf(s.log, "%s %s %s %s %v\n", start.Format("15:04:05.000"), logSafe(r.Method),
				logSafe(r.URL.RequestURI()), status, time.Since(start).Round(100*time.Microsecond))
		}()
		h.ServeHTTP(sw, r)
	})
}

// logSafe escapes every byte of s that could end or blur a log line (control
// characters, space, DEL and non-ASCII) as %XX, so one request is one line
// whatever it holds.
func logSafe(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// statusWriter remembers the status a handler wrote.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.closed:
	}
	return false
}

// reserved lists the verification IDs of the SDKs' test suites.
var reserved = map[string]bool{PassingVerificationID: true, NotFoundVerificationID: true,
	NotFinishedVerificationID: true, ExpiredVerificationID: true, RetrievalLimitVerificationID: true}

func (s *Server) serveResult(w http.ResponseWriter, r *http.Request) {
	id := strings.ToLower(r.PathValue("id"))
	key, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if key != s.apiKey && !(reserved[id] && strings.HasPrefix(key, "ak_") && len(key) > len("ak_")) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "api key invalid"})
		return
	}
	s.mu.Lock()
	down := s.down
	e, ok := s.entries[id]
	var cfg entry
	if ok {
		cfg = *e
	}
	s.mu.Unlock()
	if down != 0 {
		writeJSON(w, down, map[string]string{})
		return
	}
	if !ok {
		if r.URL.Query().Get("clientFailover") == "true" {
			writeJSON(w, http.StatusPreconditionFailed, map[string]string{"error": "no outage seen"})
			return
		}
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "verification not found"})
		return
	}
	if cfg.hang || (cfg.delay > 0 && !s.wait(r.Context(), cfg.delay)) {
		if cfg.hang {
			s.wait(r.Context(), 1<<62)
		}
		// Drop the connection without an answer, as a dying server would.
		panic(http.ErrAbortHandler)
	}
	switch {
	case cfg.status != 0:
		writeJSON(w, cfg.status, map[string]string{})
		return
	case cfg.garbage != nil:
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(cfg.garbage)
		return
	case !cfg.finished:
		writeJSON(w, http.StatusLocked, map[string]string{"error": "verification not finished"})
		return
	case time.Now().After(cfg.result.ResultExpiresAt):
		writeJSON(w, http.StatusGone, map[string]string{"error": "result expired"})
		return
	case s.limit > 0 && cfg.fetches >= s.limit:
		writeJSON(w, http.StatusTooManyRequests, map[string]string{"error": "retrieval limit reached"})
		return
	}
	now := time.Now().UTC()
	s.mu.Lock()
	e.fetches++
	if e.result.ResultFirstFetchedAt.IsZero() {
		e.result.ResultFirstFetchedAt = now
	}
	e.result.ResultLastFetchedAt = now
	res := e.result
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, res)
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
