package trustcaptcha_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
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
