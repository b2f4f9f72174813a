package trustcaptcha_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

func TestChiGroupAndWith(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	captcha := trustcaptcha.RequireCaptcha(
		trustcaptcha.Options{Verifier: api.Client(), Skip: trustcaptcha.SkipSafeMethods},
	)
	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(captcha)
		r.Get("/contact", formPage)
		r.Post("/contact", formSubmit)
	})
	r.With(trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client()})).Post("/api/signup", signup)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	runRouterChecks(t, srv.URL, api)
}

func TestServeMuxPatterns(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	captcha := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client()})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /contact", formPage)
	mux.Handle("POST /contact", captcha(http.HandlerFunc(formSubmit)))
	mux.Handle("POST /api/signup", captcha(http.HandlerFunc(signup)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	runRouterChecks(t, srv.URL, api)
}

// The handlers both router tests mount.
func formPage(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "the form") }

func formSubmit(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "thanks "+r.FormValue("name"))
}

func signup(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	_, _ = fmt.Fprintf(w, "welcome %v", body["email"])
}

// runRouterChecks drives a router that serves GET /contact (open), POST
// /contact (form, protected) and POST /api/signup (JSON, protected), end to
// end through the real client and the fake API.
func runRouterChecks(t *testing.T, base string, api *trustcaptchatest.Server) {
	t.Helper()
	do := func(method, path, ct, body string) (int, string) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := do(http.MethodGet, "/contact", "", "")
	assert.Equal(t, 200, code)
	assert.Equal(t, "the form", body)

	code, body = do(
		http.MethodPost,
		"/contact",
		"application/x-www-form-urlencoded",
		form("name", "Ada", "tc-verification-token", api.Human()),
	)
	assert.Equal(t, 200, code)
	assert.Equal(t, "thanks Ada", body)

	code, _ = do(
		http.MethodPost,
		"/contact",
		"application/x-www-form-urlencoded",
		form("name", "Bot", "tc-verification-token", api.Bot()),
	)
	assert.Equal(t, 400, code)
	code, _ = do(http.MethodPost, "/contact", "application/x-www-form-urlencoded", form("name", "Nobody"))
	assert.Equal(t, 400, code)

	code, body = do(
		http.MethodPost,
		"/api/signup",
		"application/json",
		`{"email":"ada@example.com","tc-verification-token":"`+api.Human()+`"}`,
	)
	assert.Equal(t, 200, code)
	assert.Equal(t, "welcome ada@example.com", body)
	code, body = do(
		http.MethodPost,
		"/api/signup",
		"application/json",
		`{"email":"bot@example.com","tc-verification-token":"`+api.Failed()+`"}`,
	)
	assert.Equal(t, 400, code)
	assert.Contains(t, body, `"reason":"`+"verification-failed"+`"`)
}
