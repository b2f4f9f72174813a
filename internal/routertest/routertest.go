// Package routertest holds the cases a router adapter of this repository must
// pass (Gin through package gincaptcha, Echo v4 and v5 through
// echo.WrapMiddleware): the guarantees of RequireCaptcha on net/http, proven
// again through the router, against the fake TrustCaptcha API.
package routertest

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

// Build returns a router serving these routes, each wired the way the
// router's users wire it, the captcha made from opts:
//
//   - POST /form, /json and /upload: the captcha, then a later middleware that
//     calls later(), then a handler that answers 200 with "name=<the form
//     field name>", "name=<the member name of the JSON body, bound the
//     router's way>" or "file=<the content of the uploaded file file>".
//   - A group /page whose middleware is the captcha with
//     Options.Skip set to trustcaptcha.SkipSafeMethods: GET /page answers
//     200 "page", POST /page answers like /form.
//
// Every handler appends Describe(r) of its request.
type Build func(opts trustcaptcha.Options, later func()) http.Handler

// Describe is what a handler appends to its answer: " score=<score>" for a
// request that passed with a result, " failover" for one the failover policy
// admitted.
func Describe(r *http.Request) string {
	var b strings.Builder
	if res, ok := trustcaptcha.ResultFromContext(r.Context()); ok {
		b.WriteString(" score=" + strconv.FormatFloat(res.Score, 'g', -1, 64))
	}
	if trustcaptcha.AdmittedByFailover(r.Context()) {
		b.WriteString(" failover")
	}
	return b.String()
}

// Run runs every case against the router build makes.
func Run(t *testing.T, build Build) {
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	base := trustcaptcha.Options{Verifier: api.Client(), ReplayStore: trustcaptcha.NewMemoryStore()}

	// serve builds the router with opts, serves r, and reports whether the
	// later middleware ran.
	serve := func(t *testing.T, opts trustcaptcha.Options, r *http.Request) (rec *httptest.ResponseRecorder, laterRan bool) {
		var later atomic.Bool
		h := build(opts, func() { later.Store(true) })
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		return rec, later.Load()
	}
	admitted := func(t *testing.T, rec *httptest.ResponseRecorder, laterRan bool, body string) {
		t.Helper()
		assert.Equal(t, http.StatusOK, rec.Code, "body: %s", rec.Body)
		assert.Equal(t, body, rec.Body.String())
		assert.True(t, laterRan, "the later middleware ran")
	}
	rejected := func(t *testing.T, rec *httptest.ResponseRecorder, laterRan bool, status int, reason string) {
		t.Helper()
		assert.Equal(t, status, rec.Code, "body: %s", rec.Body)
		assert.Contains(t, rec.Body.String(), reason)
		assert.False(t, laterRan, "nothing after the captcha runs on a rejection")
		for _, out := range []string{"name=", "file=", "page"} {
			assert.NotContains(t, rec.Body.String(), out, "no handler output in the answer")
		}
	}

	t.Run("a human's form reaches the handler", func(t *testing.T) {
		rec, later := serve(t, base, api.NewFormRequest("/form", trustcaptchatest.Human, url.Values{"name": {"Ada"}}))
		admitted(t, rec, later, "name=Ada score=0.1")
	})
	t.Run("a human's JSON body is bound by the handler", func(t *testing.T) {
		rec, later := serve(t, base, api.NewJSONRequest("/json", trustcaptchatest.Human, map[string]any{"name": "Ada"}))
		admitted(t, rec, later, "name=Ada score=0.1")
	})
	t.Run("a human's uploaded file reaches the handler", func(t *testing.T) {
		rec, later := serve(t, base, upload(t, "/upload", api.Human(), "the file's bytes"))
		admitted(t, rec, later, "file=the file's bytes score=0.1")
	})
	t.Run("a large upload reaches the handler and leaves no temporary file", func(t *testing.T) {
		tmp := t.TempDir()
		t.Setenv("TMPDIR", tmp) // where the captcha spools a body over MaxBodyBytes
		content := strings.Repeat("x", 3<<20)
		rec, later := serve(t, base, upload(t, "/upload", api.Human(), content))
		admitted(t, rec, later, "file="+content+" score=0.1")
		left, err := os.ReadDir(tmp)
		require.NoError(t, err)
		assert.Empty(t, left, "a temporary file outlived the request")
	})
	for _, kind := range []trustcaptchatest.Kind{trustcaptchatest.Bot, trustcaptchatest.Failed} {
		t.Run("a "+kind.String()+" runs nothing after the captcha", func(t *testing.T) {
			rec, later := serve(t, base, api.NewFormRequest("/form", kind, url.Values{"name": {"Ada"}}))
			rejected(t, rec, later, http.StatusBadRequest, map[trustcaptchatest.Kind]string{
				trustcaptchatest.Bot: "score-too-high", trustcaptchatest.Failed: "verification-failed"}[kind])
		})
	}
	t.Run("a missing token runs nothing after the captcha", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "/form", strings.NewReader("name=Ada"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec, later := serve(t, base, r)
		rejected(t, rec, later, http.StatusBadRequest, "token-missing")
	})
	t.Run("a token used once is refused the second time", func(t *testing.T) {
		opts := base
		opts.ReplayStore = trustcaptcha.NewMemoryStore()
		tok := api.Human()
		form := func() *http.Request {
			r := httptest.NewRequest(http.MethodPost, "/form", strings.NewReader(url.Values{
				"name": {"Ada"}, trustcaptcha.DefaultTokenField: {tok}}.Encode()))
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			return r
		}
		rec, later := serve(t, opts, form())
		admitted(t, rec, later, "name=Ada score=0.1")
		rec, later = serve(t, opts, form())
		rejected(t, rec, later, http.StatusBadRequest, "token-reused")
	})
	t.Run("an outage admitted by FailOpen is marked for the handler", func(t *testing.T) {
		opts := base
		opts.Failover = trustcaptcha.FailOpen
		rec, later := serve(t, opts, api.NewFormRequest("/form", trustcaptchatest.Unreachable, url.Values{"name": {"Ada"}}))
		admitted(t, rec, later, "name=Ada failover")
	})
	t.Run("a group with SkipSafeMethods serves its GET and protects its POST", func(t *testing.T) {
		rec, _ := serve(t, base, httptest.NewRequest(http.MethodGet, "/page", nil))
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "page", rec.Body.String())
		rec, _ = serve(t, base, api.NewFormRequest("/page", trustcaptchatest.Human, url.Values{"name": {"Ada"}}))
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Equal(t, "name=Ada score=0.1", rec.Body.String())
		r := httptest.NewRequest(http.MethodPost, "/page", strings.NewReader("name=Ada"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec, _ = serve(t, base, r)
		assert.Equal(t, http.StatusBadRequest, rec.Code)
		assert.NotContains(t, rec.Body.String(), "name=")
	})
	t.Run("a custom ErrorHandler's answer is what the client gets", func(t *testing.T) {
		opts := base
		opts.ErrorHandler = func(w http.ResponseWriter, r *http.Request, err error) {
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusTeapot)
			_, _ = io.WriteString(w, "custom: "+trustcaptcha.PublicReason(err))
		}
		rec, later := serve(t, opts, api.NewFormRequest("/form", trustcaptchatest.Bot, url.Values{"name": {"Ada"}}))
		rejected(t, rec, later, http.StatusTeapot, "custom: score-too-high")
		assert.Equal(t, "custom: score-too-high", rec.Body.String())
	})
	t.Run("an oversized body is 413 and runs nothing after the captcha", func(t *testing.T) {
		opts := base
		opts.MaxBodyBytes = 1 << 10
		r := api.NewFormRequest("/form", trustcaptchatest.Human, url.Values{"name": {strings.Repeat("a", 2<<10)}})
		rec, later := serve(t, opts, r)
		rejected(t, rec, later, http.StatusRequestEntityTooLarge, "body-too-large")
	})
}

// upload returns a multipart POST to target with the token field and the
// file "file" holding content.
func upload(t *testing.T, target, token, content string) *http.Request {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	require.NoError(t, mw.WriteField(trustcaptcha.DefaultTokenField, token))
	fw, err := mw.CreateFormFile("file", "note.txt")
	require.NoError(t, err)
	_, err = io.WriteString(fw, content)
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	r := httptest.NewRequest(http.MethodPost, target, &b)
	r.Header.Set("Content-Type", mw.FormDataContentType())
	return r
}
