package trustcaptcha_test

// Helpers shared by the package's tests: tokens, a stub Verifier, a probe
// handler that records what it saw, request builders.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captchakit/trustcaptcha"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// Tokens understood by the stub verifier.
var (
	tokHuman  = tokenFor("11111111-1111-4111-8111-111111111111")
	tokBot    = tokenFor("22222222-2222-4222-8222-222222222222")
	tokFailed = tokenFor("33333333-3333-4333-8333-333333333333")
	tokEdge   = tokenFor("44444444-4444-4444-8444-444444444444")
)

// stub is an in-memory Verifier: results and errors by token, calls counted.
// Each result gets a fresh VerificationID, as if every request carried its
// own solve, so tests that are not about single use can reuse the tokens.
type stub struct {
	calls atomic.Int64
	err   error // returned for every token when set
}

func (s *stub) Verify(ctx context.Context, token string) (*trustcaptcha.Result, error) {
	s.calls.Add(1)
	if _, err := trustcaptcha.ParseToken(token); err != nil {
		return nil, err
	}
	if s.err != nil {
		return nil, s.err
	}
	res := &trustcaptcha.Result{
		VerificationID:     freshID(),
		VerificationPassed: true,
		Origin:             "https://shop.example",
		IPAddress:          "203.0.113.7",
	}
	switch token {
	case tokHuman:
		res.Score = 0.1
	case tokBot:
		res.Score = 0.9
	case tokFailed:
		res.VerificationPassed, res.Score = false, 1
	case tokEdge:
		res.Score = 0.5
	default:
		return nil, fmt.Errorf("%w (HTTP 404)", trustcaptcha.ErrVerificationNotFound)
	}
	return res, nil
}

// seen is what the protected handler observed.
type seen struct {
	ran       bool
	body      string
	name      string
	query     string
	file      string
	result    *trustcaptcha.Result
	failover  bool
	decision  trustcaptcha.Decision
	decided   bool // DecisionFromContext's ok
	hasResult bool
}

// probe returns a handler that records what it saw into *seen.
func probe(s *seen) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.ran = true
		s.result, s.hasResult = trustcaptcha.ResultFromContext(r.Context())
		s.failover = trustcaptcha.AdmittedByFailover(r.Context())
		s.decision, s.decided = trustcaptcha.DecisionFromContext(r.Context())
		ct := r.Header.Get("Content-Type")
		switch {
		case strings.HasPrefix(ct, "multipart/"):
			s.name = r.FormValue("name")
			if f, _, err := r.FormFile("upload"); err == nil {
				b, _ := io.ReadAll(f)
				s.file = string(b)
				f.Close()
			}
		case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
			raw, _ := io.ReadAll(r.Body) // read as a handler that logs the body would, then put back
			s.body = string(raw)
			r.Body = io.NopCloser(bytes.NewReader(raw))
			s.name = r.FormValue("name")
			s.query = r.Form.Get("q")
		default:
			raw, _ := io.ReadAll(r.Body)
			s.body = string(raw)
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func quietLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

func form(vals ...string) string {
	v := url.Values{}
	for i := 0; i+1 < len(vals); i += 2 {
		v.Add(vals[i], vals[i+1])
	}
	return v.Encode()
}

func multipartBody(t testing.TB, fields map[string]string, file string) (string, string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	for k, v := range fields {
		require.NoError(t, mw.WriteField(k, v))
	}
	if file != "" {
		fw, err := mw.CreateFormFile("upload", "notes.txt")
		require.NoError(t, err)
		_, _ = io.WriteString(fw, file)
	}
	require.NoError(t, mw.Close())
	return b.String(), mw.FormDataContentType()
}

type reqCase struct {
	name        string
	method      string
	target      string
	contentType string
	header      map[string]string
	body        string
}

func (c reqCase) request() *http.Request {
	m := c.method
	if m == "" {
		m = http.MethodPost
	}
	tgt := c.target
	if tgt == "" {
		tgt = "/contact"
	}
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	r := httptest.NewRequest(m, tgt, body)
	if c.contentType != "" {
		r.Header.Set("Content-Type", c.contentType)
	}
	for k, v := range c.header {
		r.Header.Set(k, v)
	}
	return r
}

// send posts to h with token in the X-TC-Verification-Token header and
// returns the recorded response.
func send(h http.Handler, token string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, "/contact", nil)
	r.Header.Set("X-TC-Verification-Token", token)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	return rec
}

type problemBody struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
	Reason string `json:"reason"`
}

func problem(t *testing.T, rec *httptest.ResponseRecorder) problemBody {
	t.Helper()
	require.Equal(t, "application/problem+json", rec.Header().Get("Content-Type"))
	var p problemBody
	require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &p))
	return p
}

// zeros is an endless reader of '0' bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = '0'
	}
	return len(p), nil
}

func tokenFor(id string) string { return trustcaptcha.Token{VerificationID: id}.Encode() }

const someID = "3f2b8c4e-9d1a-4b6c-8e7f-112233445566"

// resultJSON is a valid result body for someID.
func resultJSON(passed bool, score float64) string {
	return fmt.Sprintf(
		`{"captchaId":"6f1a7c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b","verificationId":%q,"verificationPassed":%t,"score":%v,
"decisionType":"RISK_SCORE","decisionAction":"PASS","gatewayFailoverActive":false,"riskScoringEnabled":true,
"minimalDataModeEnabled":false,"origin":"https://example.com","ipAddress":"203.0.113.7","countryCode":"CH",
"deviceFamily":"Desktop","operatingSystem":"Linux","browser":"Firefox",
"verificationStartedAt":"2026-11-25T10:00:00","verificationFinishedAt":"2026-11-25T10:00:02.123Z",
"resultExpiresAt":"2026-11-25T10:05:02.123456+01:00","resultFirstFetchedAt":null}`,
		someID,
		passed,
		score,
	)
}

// handServer is a hand-written API for one test: it counts requests and
// records the last one, so a bug the client shares with trustcaptchatest
// cannot hide.
type handServer struct {
	*httptest.Server
	hits  atomic.Int64
	conns atomic.Int64 // connections opened
	last  atomic.Pointer[http.Request]
}

// fakeClock is a clock the test moves by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

var idCounter atomic.Int64

// freshID returns a verification ID no other call returned.
func freshID() string {
	return fmt.Sprintf("00000000-0000-4000-8000-%012d", idCounter.Add(1))
}

// TestMain fails the package's tests if any goroutine outlives them: a hung
// verification, a body reader or a connection left behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
