package trustcaptcha_test

// The middleware (middleware.go): wiring mistakes caught at construction,
// Skip, routers, concurrency, and what it logs.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/internal/routertest"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRequireCaptchaPanicsOnWiringMistakes(t *testing.T) {
	t.Parallel()
	v := &stub{}
	cases := map[string]struct {
		opts  trustcaptcha.Options
		field string // the panic names it
	}{
		"nil verifier":          {trustcaptcha.Options{}, "Options.Verifier"},
		"nil VerifierFunc":      {trustcaptcha.Options{Verifier: trustcaptcha.VerifierFunc(nil)}, "Options.Verifier"},
		"nil *Client":           {trustcaptcha.Options{Verifier: nilClient()}, "Options.Verifier"},
		"nil *stub":             {trustcaptcha.Options{Verifier: (*stub)(nil)}, "Options.Verifier"},
		"NaN threshold":         {trustcaptcha.Options{Verifier: v, Threshold: math.NaN()}, "Options.Threshold"},
		"negative threshold":    {trustcaptcha.Options{Verifier: v, Threshold: -0.1}, "Options.Threshold"},
		"threshold above one":   {trustcaptcha.Options{Verifier: v, Threshold: 1.5}, "Options.Threshold"},
		"negative body limit":   {trustcaptcha.Options{Verifier: v, MaxBodyBytes: -1}, "MaxBodyBytes"},
		"negative multipart":    {trustcaptcha.Options{Verifier: v, MaxMultipartBytes: -1}, "MaxMultipartBytes"},
		"origin without scheme": {trustcaptcha.Options{Verifier: v, AllowedOrigins: []string{"example.com"}}, "Options.AllowedOrigins"},
		"origin with path":      {trustcaptcha.Options{Verifier: v, AllowedOrigins: []string{"https://example.com/contact"}}, "Options.AllowedOrigins"},
		"bad proxy":             {trustcaptcha.Options{Verifier: v, TrustedProxies: []string{"10.0.0.0/33"}}, "Options.TrustedProxies"},
		"bad token field":       {trustcaptcha.Options{Verifier: v, TokenField: `a"b`}, "Options.TokenField"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			defer func() {
				assert.Contains(t, fmt.Sprint(recover()), tc.field)
			}()
			trustcaptcha.RequireCaptcha(tc.opts)
			t.Error("no panic")
		})
	}
	assert.NotPanics(t, func() {
		trustcaptcha.RequireCaptcha(
			trustcaptcha.Options{
				Verifier:       v,
				Threshold:      1,
				AllowedOrigins: []string{"https://Example.com/"},
				TrustedProxies: []string{"10.0.0.1", "fd00::/8"},
			},
		)
	})
}

// nilClient is what an ignored NewClient error leaves.
func nilClient() *trustcaptcha.Client {
	c, _ := trustcaptcha.NewClient("")
	return c
}

func TestSkip(t *testing.T) {
	t.Parallel()
	v := &stub{}
	var s seen
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: v, Skip: trustcaptcha.SkipSafeMethods})(probe(&s))
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		s = seen{}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/contact", nil))
		assert.Equal(t, 204, rec.Code, m)
		assert.True(t, s.ran)
		assert.False(t, s.decided, "a skipped request carries no decision")
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		s = seen{}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/contact", nil))
		assert.Equal(t, 400, rec.Code, m)
		assert.False(t, s.ran)
	}
	assert.Zero(t, v.calls.Load())

	// Nothing is skipped by default: wrapping a GET route protects it.
	s = seen{}
	rec := httptest.NewRecorder()
	trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: v})(
		probe(&s),
	).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, 400, rec.Code)
}

func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	var admitted, rejected atomic.Int64
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client(), Logger: quietLogger(),
		OnDecision: func(_ *http.Request, d trustcaptcha.Decision) {
			if d.Admitted {
				admitted.Add(1)
			} else {
				rejected.Add(1)
			}
		}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["n"] == "" {
			http.Error(w, "body lost", 500)
			return
		}
		w.WriteHeader(204)
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	bot := api.Bot()
	var wg sync.WaitGroup
	errs := make(chan string, 500)
	for i := range 500 {
		wg.Go(func() {
			tok, want := api.Human(), 204 // each human solves once
			if i%2 == 1 {
				tok, want = bot, 400
			}
			resp, err := http.Post(
				srv.URL,
				"application/json",
				strings.NewReader(fmt.Sprintf(`{"n":"%d","tc-verification-token":%q}`, i, tok)),
			)
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				errs <- fmt.Sprintf("request %d: got %d, want %d", i, resp.StatusCode, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	assert.Equal(t, int64(250), admitted.Load())
	assert.Equal(t, int64(250), rejected.Load())
}

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the log lines that contain substr.
func (s *syncBuffer) lines(substr string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for l := range strings.Lines(s.b.String()) {
		if strings.Contains(l, substr) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// TestOperatorErrorsLoggedOncePerMinute: a revoked key is logged the first
// time, then at most once a minute per reason with the number not logged.
func TestOperatorErrorsLoggedOncePerMinute(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	clock := newFakeClock()
	cause := trustcaptcha.ErrAPIKeyInvalid
	v := trustcaptcha.VerifierFunc(func(context.Context, string) (*trustcaptcha.Result, error) {
		return nil, fmt.Errorf("%w (HTTP 403)", cause)
	})
	h := trustcaptcha.RequireCaptchaWithClock(trustcaptcha.Options{
		Verifier: v, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}, clock.Now)(probe(&seen{}))
	for range 100 {
		send(h, tokHuman)
	}
	assert.Len(t, logs.lines("level=ERROR"), 1, "100 rejections in a minute")
	clock.Advance(59 * time.Second)
	send(h, tokHuman)
	assert.Len(t, logs.lines("level=ERROR"), 1)
	clock.Advance(time.Second)
	send(h, tokHuman)
	lines := logs.lines("level=ERROR")
	if assert.Len(t, lines, 2) {
		assert.Contains(t, lines[1], "reason=api-key-invalid")
		assert.Contains(t, lines[1], "suppressed=100")
	}
	cause = trustcaptcha.ErrUnexpectedResponse // another reason has its own minute
	send(h, tokHuman)
	assert.Len(t, logs.lines("reason=unexpected-response"), 1)
}

// A site in minimal data mode is told once per process, at Warn, that its
// Threshold does nothing. Not parallel: the warning is process-wide.
func TestMinimalDataModeWarnsOncePerProcess(t *testing.T) {
	trustcaptcha.ResetMinimalDataWarning()
	t.Cleanup(trustcaptcha.ResetMinimalDataWarning)
	var logs syncBuffer
	minimal := trustcaptcha.VerifierFunc(func(context.Context, string) (*trustcaptcha.Result, error) {
		return &trustcaptcha.Result{VerificationID: freshID(), VerificationPassed: true, MinimalDataModeEnabled: true}, nil
	})
	for range 2 { // two middlewares in one process: one warning
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: minimal,
			Logger: slog.New(slog.NewTextHandler(&logs, nil))})(probe(&seen{}))
		for range 3 {
			assert.Equal(t, http.StatusNoContent, send(h, tokenFor(freshID())).Code)
		}
	}
	warns := logs.lines("minimal data mode")
	if assert.Len(t, warns, 1) {
		assert.Contains(t, warns[0], "level=WARN")
		assert.Contains(t, warns[0], "Threshold has no effect")
	}
}

// A result the API decided in its gateway failover is admitted (the vendor's
// default) and named at Debug, admitted or not.
func TestGatewayFailoverIsNamedAtDebug(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	score := 0.1
	gateway := trustcaptcha.VerifierFunc(func(context.Context, string) (*trustcaptcha.Result, error) {
		return &trustcaptcha.Result{VerificationID: freshID(), VerificationPassed: true, Score: score,
			GatewayFailoverActive: true, DecisionType: "FAILOVER"}, nil
	})
	var s seen
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: gateway,
		Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})(probe(&s))
	assert.Equal(t, http.StatusNoContent, send(h, tokenFor(freshID())).Code)
	require.True(t, s.hasResult)
	assert.True(t, s.result.GatewayFailoverActive, "the handler can check the flag")
	admitted := logs.lines("gateway failover")
	if assert.Len(t, admitted, 1) {
		assert.Contains(t, admitted[0], "level=DEBUG")
		assert.Contains(t, admitted[0], "decision_type=FAILOVER")
	}
	score = 0.9
	assert.Equal(t, http.StatusBadRequest, send(h, tokenFor(freshID())).Code)
	rejected := logs.lines("request rejected")
	if assert.Len(t, rejected, 1) {
		assert.Contains(t, rejected[0], "gateway_failover=true")
	}
}

// TestRouters: the cases every router must pass (internal/routertest, also
// run through Gin and Echo) hold in chi, a route with r.With and a group with
// r.Use, and in http.ServeMux, a route wrapped and a sub-mux wrapped. Not
// parallel: a case sets TMPDIR.
func TestRouters(t *testing.T) {
	t.Run("chi", func(t *testing.T) {
		routertest.Run(t, func(opts trustcaptcha.Options, later func()) http.Handler {
			r := chi.NewRouter()
			protected := r.With(trustcaptcha.RequireCaptcha(opts), calling(later))
			protected.Post("/form", formHandler)
			protected.Post("/json", jsonHandler)
			protected.Post("/upload", uploadHandler)
			skipping := opts
			skipping.Skip = trustcaptcha.SkipSafeMethods
			r.Group(func(r chi.Router) {
				r.Use(trustcaptcha.RequireCaptcha(skipping))
				r.Get("/page", pageHandler)
				r.Post("/page", formHandler)
			})
			return r
		})
	})
	t.Run("ServeMux", func(t *testing.T) {
		routertest.Run(t, func(opts trustcaptcha.Options, later func()) http.Handler {
			captcha := trustcaptcha.RequireCaptcha(opts)
			mux := http.NewServeMux()
			mux.Handle("POST /form", captcha(calling(later)(http.HandlerFunc(formHandler))))
			mux.Handle("POST /json", captcha(calling(later)(http.HandlerFunc(jsonHandler))))
			mux.Handle("POST /upload", captcha(calling(later)(http.HandlerFunc(uploadHandler))))
			skipping := opts
			skipping.Skip = trustcaptcha.SkipSafeMethods
			page := http.NewServeMux()
			page.HandleFunc("GET /page", pageHandler)
			page.HandleFunc("POST /page", formHandler)
			mux.Handle("/page", trustcaptcha.RequireCaptcha(skipping)(page))
			return mux
		})
	})
}

// calling is middleware that calls f, then the next handler.
func calling(f func()) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			f()
			next.ServeHTTP(w, r)
		})
	}
}

// The handlers routertest asks for, written for net/http.
func pageHandler(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "page") }

func formHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "name="+r.FormValue("name")+routertest.Describe(r))
}

func jsonHandler(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Name string `json:"name"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	_, _ = io.WriteString(w, "name="+body.Name+routertest.Describe(r))
}

func uploadHandler(w http.ResponseWriter, r *http.Request) {
	f, _, err := r.FormFile("file")
	if err != nil {
		http.Error(w, err.Error(), http.StatusUnprocessableEntity)
		return
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	_, _ = io.WriteString(w, "file="+string(b)+routertest.Describe(r))
}
