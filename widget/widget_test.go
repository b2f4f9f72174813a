package widget_test

import (
	"bytes"
	"context"
	"flag"
	"html/template"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
	"github.com/captchakit/trustcaptcha/widget"
)

var update = flag.Bool("update", false, "rewrite the golden files")

const siteKey = "6f1a7c2e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, []byte(got), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err, "run go test ./widget -update to create it")
	assert.Equal(t, string(want), got)
}

func TestRendering(t *testing.T) {
	for _, tc := range []struct {
		name  string
		opts  widget.Options
		nonce string
	}{
		{"minimal.html", widget.Options{SiteKey: siteKey}, ""},
		{"all.html", widget.Options{SiteKey: siteKey, TokenField: "captcha-token", APIURL: "http://127.0.0.1:8081",
			ScriptURL: "/static/tc/frontendlibrary.esm.js", Language: "de", Theme: "dark", Invisible: true,
			AutostartDisabled: true, FailoverEnabled: true, MinimalDataMode: true}, "cmFuZG9tLW5vbmNl"},
		{"hostile.html", widget.Options{SiteKey: siteKey,
			TokenField: "a&b", APIURL: `https://x.example/"><script>alert(1)</script>`,
			ScriptURL: `https://cdn.example/w.js?a="b"&c=<d>`, Language: `en" onload="alert(1)`,
			Theme: "</trustcaptcha-component><script>alert(2)</script>"}, "bm9uY2U="},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := widget.New(tc.opts)
			require.NoError(t, err)
			var b strings.Builder
			require.NoError(t, w.Tags(tc.nonce).Render(context.Background(), &b))
			got := b.String() + "\n"
			golden(t, tc.name, got)
			assert.NotContains(t, got, "<script>alert", "an attribute value broke out")
			assert.NotContains(t, got, `" onload=`, "an attribute value broke out")
			assert.Equal(t, strings.Count(got, "<script"), 1, "one script tag, ours")
		})
	}
}

func TestHTMLTemplate(t *testing.T) {
	w, err := widget.New(widget.Options{SiteKey: siteKey})
	require.NoError(t, err)
	page := template.Must(template.New("p").Parse(`<form>{{.Captcha.HTML}}</form>`))
	var b bytes.Buffer
	require.NoError(t, page.Execute(&b, struct{ Captcha widget.Tags }{w.Tags("")}))
	assert.Equal(t, "<form>"+string(w.Script(""))+string(w.Element())+"</form>", b.String(),
		"html/template takes the markup as is")
	assert.Equal(t, w.Tags("").String(), string(w.Tags("").HTML()))
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []widget.Options{
		{},
		{SiteKey: "not-a-uuid"},
		{SiteKey: siteKey, TokenField: `tc" x="y`},
		{SiteKey: siteKey, APIURL: "javascript:alert(1)"},
		{SiteKey: siteKey, APIURL: "//api.example"},
		{SiteKey: siteKey, ScriptURL: "data:text/javascript,alert(1)"},
		{SiteKey: siteKey, ScriptURL: "//cdn.example/w.js"},
	} {
		_, err := widget.New(o)
		assert.Error(t, err, "%+v", o)
	}
}

func TestCSP(t *testing.T) {
	w, err := widget.New(widget.Options{SiteKey: siteKey, APIURL: "http://127.0.0.1:9999/prefix"})
	require.NoError(t, err)
	assert.Equal(t, "base-uri 'none'; connect-src 'self' http://127.0.0.1:9999; default-src 'self'; "+
		"form-action 'self'; object-src 'none'; script-src 'nonce-abc='; style-src 'self' 'nonce-abc='; worker-src blob:",
		w.CSP("abc=").String())
	p := w.CSP("")
	assert.Equal(t, []string{"https://cdn.jsdelivr.net"}, p["script-src"], "without a nonce: the script's origin")
	self, err := widget.New(widget.Options{SiteKey: siteKey, ScriptURL: "/static/tc.esm.js"})
	require.NoError(t, err)
	assert.Equal(t, []string{"'self'"}, self.CSP("")["script-src"], "self-hosted")
	assert.Panics(t, func() { w.CSP("x; script-src *") }, "a nonce cannot inject directives")
	assert.Panics(t, func() { w.Script(`"><script>`) })
	assert.NotEqual(t, widget.NewNonce(), widget.NewNonce())
	assert.Len(t, widget.NewNonce(), 24)
}

// The field name has one source of truth: the widget.
func TestOneTokenField(t *testing.T) {
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	w, err := widget.New(widget.Options{SiteKey: siteKey, TokenField: "captcha"})
	require.NoError(t, err)
	assert.Equal(t, "captcha", w.TokenField())
	assert.Contains(t, string(w.Element()), `token-field-name="captcha"`)
	assert.Error(t, w.CheckOptions(trustcaptcha.Options{}), "the middleware's default field differs")
	assert.NoError(t, w.CheckOptions(trustcaptcha.Options{TokenField: "captcha"}))
	assert.Panics(t, func() { w.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client(), TokenField: "other"}) })

	h := w.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client()})(
		http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) { rw.WriteHeader(http.StatusNoContent) }))
	r := httptest.NewRequest(http.MethodPost, "/", strings.NewReader("captcha="+api.Human()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, http.StatusNoContent, rec.Code, "the middleware reads the widget's field")

	def, err := widget.New(widget.Options{SiteKey: siteKey})
	require.NoError(t, err)
	assert.NoError(t, def.CheckOptions(trustcaptcha.Options{}))
	assert.NotContains(t, string(def.Element()), "token-field-name", "the default needs no attribute")
}
