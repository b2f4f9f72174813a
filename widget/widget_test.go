package widget_test

import (
	"bytes"
	"flag"
	"html"
	"html/template"
	"net/http"
	"net/http/httptest"
	"net/url"
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

// fixedNonce makes golden files stable: the page's nonce replaced by one
// fixed value.
func fixedNonce(p widget.Page) string {
	if p.Nonce == "" {
		return string(p.Head) + "\n" + string(p.Element) + "\n"
	}
	return strings.ReplaceAll(string(p.Head)+"\n"+string(p.Element)+"\n"+p.Policy.String()+"\n", p.Nonce, "NONCE")
}

func TestRendering(t *testing.T) {
	for _, tc := range []struct {
		name    string
		opts    widget.Options
		withCSP bool
	}{
		{"minimal.html", widget.Options{SiteKey: siteKey}, false},
		{"all.html", widget.Options{SiteKey: siteKey, TokenField: "captcha-token", APIURL: "http://127.0.0.1:8081",
			ScriptURL: "/static/tc/frontendlibrary.esm.js", Language: "de", Theme: "dark", Invisible: true,
			AutostartDisabled: true, FailoverEnabled: true, MinimalDataMode: true}, true},
		{"hostile.html", widget.Options{SiteKey: siteKey,
			TokenField: "a&b", APIURL: `https://x.example/"><script>alert(1)</script>`,
			ScriptURL: `https://cdn.example/w.js?a="b"&c=<d>`, Language: `en" onload="alert(1)`,
			Theme: "</trustcaptcha-component><script>alert(2)</script>"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w, err := widget.New(tc.opts)
			require.NoError(t, err)
			p := w.PageWithoutCSP()
			if tc.withCSP {
				p = w.Page()
			}
			got := fixedNonce(p)
			golden(t, tc.name, got)
			assert.NotContains(t, got, "<script>alert", "an attribute value broke out")
			assert.NotContains(t, got, `" onload=`, "an attribute value broke out")
			assert.Equal(t, strings.Count(got, "<script"), 1, "one script tag, ours")
		})
	}
}

// TestPageMatchesItsPolicy: the markup and the policy of one Page carry the
// same nonce, a fresh one per call; there is no nonce-less script beside a
// nonce policy and no 'unsafe-inline'.
func TestPageMatchesItsPolicy(t *testing.T) {
	w, err := widget.New(widget.Options{SiteKey: siteKey, APIURL: "http://127.0.0.1:9999/prefix"})
	require.NoError(t, err)
	p := w.Page()
	assert.Len(t, p.Nonce, 22)
	assert.Contains(t, string(p.Head), `<meta name="csp-nonce" content="`+p.Nonce+`">`)
	assert.Contains(t, string(p.Head), `nonce="`+p.Nonce+`"></script>`)
	assert.Equal(t, "base-uri 'none'; connect-src 'self' http://127.0.0.1:9999; default-src 'self'; "+
		"form-action 'self'; object-src 'none'; script-src 'nonce-"+p.Nonce+"'; style-src 'self' 'nonce-"+p.Nonce+
		"'; worker-src blob:", p.Policy.String())
	assert.NotEqual(t, p.Nonce, w.Page().Nonce, "a nonce per response")
	assert.NotContains(t, p.Policy.String(), "unsafe")
	bare := w.PageWithoutCSP()
	assert.Nil(t, bare.Policy, "no policy to pair with a nonce-less script")
	assert.NotContains(t, string(bare.Head), "nonce")
	assert.NotEqual(t, widget.NewNonce(), widget.NewNonce())
}

// TestHTMLTemplate: html/template takes the markup as is; printing the Page
// itself instead of its fields shows a note that names the fix.
func TestHTMLTemplate(t *testing.T) {
	w, err := widget.New(widget.Options{SiteKey: siteKey})
	require.NoError(t, err)
	p := w.Page()
	page := template.Must(template.New("p").Parse(
		`<head>{{.Captcha.Head}}</head><form>{{.Captcha.Element}}</form><style nonce="{{.Captcha.Nonce}}"></style>`))
	var b bytes.Buffer
	require.NoError(t, page.Execute(&b, struct{ Captcha widget.Page }{p}))
	assert.Equal(t, "<head>"+string(p.Head)+"</head><form>"+string(p.Element)+`</form><style nonce="`+p.Nonce+
		`"></style>`, b.String())

	b.Reset()
	wrong := template.Must(template.New("p").Parse(`<form>{{.Captcha}}</form>`))
	require.NoError(t, wrong.Execute(&b, struct{ Captcha widget.Page }{p}))
	assert.Contains(t, b.String(), "widget.Page: write {{.X.Head}} inside &lt;head&gt;")
	assert.NotContains(t, b.String(), "trustcaptcha-component", "no markup printed as text")
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    widget.Options
		want string // in the error
	}{
		{"no site key", widget.Options{}, "SiteKey"},
		{"site key not a UUID", widget.Options{SiteKey: "not-a-uuid"}, "SiteKey"},
		{"token field with a quote", widget.Options{SiteKey: siteKey, TokenField: `tc" x="y`}, "TokenField"},
		{"API URL javascript:", widget.Options{SiteKey: siteKey, APIURL: "javascript:alert(1)"}, "APIURL"},
		{"API URL without scheme", widget.Options{SiteKey: siteKey, APIURL: "//api.example"}, "APIURL"},
		{"script data: URL", widget.Options{SiteKey: siteKey, ScriptURL: "data:text/javascript,alert(1)"}, "neither an absolute https URL"},
		{"script http URL", widget.Options{SiteKey: siteKey, ScriptURL: "http://cdn.example/w.js"}, "neither an absolute https URL"},
		{"script relative path", widget.Options{SiteKey: siteKey, ScriptURL: "static/w.js"}, "neither an absolute https URL"},
		{"script //host", widget.Options{SiteKey: siteKey, ScriptURL: "//evil.example/x.js"}, `starts with "//"`},
		{"script /\\host", widget.Options{SiteKey: siteKey, ScriptURL: `/\evil.example/x.js`}, "backslash"},
		{"script /\\\\host", widget.Options{SiteKey: siteKey, ScriptURL: `/\\evil.example/x.js`}, "backslash"},
		{"script / tab /host", widget.Options{SiteKey: siteKey, ScriptURL: "/\t/evil.example/x.js"}, "white space"},
		{"script / LF /host", widget.Options{SiteKey: siteKey, ScriptURL: "/\n/evil.example/x.js"}, "white space"},
		{"script / CRLF /host", widget.Options{SiteKey: siteKey, ScriptURL: "/\r\n/evil.example/x.js"}, "white space"},
		{"script path with a space", widget.Options{SiteKey: siteKey, ScriptURL: "/static/ w.js"}, "white space"},
		{"script https with user info", widget.Options{SiteKey: siteKey, ScriptURL: "https://cdn.example@evil.example/x.js"}, "plainly"},
		{"script https with a backslash host", widget.Options{SiteKey: siteKey, ScriptURL: `https://evil.example\@cdn.example/x.js`}, "backslash"},
		{"script https with an escaped host", widget.Options{SiteKey: siteKey, ScriptURL: "https://evil%2eexample/x.js"}, "plainly"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := widget.New(tc.o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

// TestScriptURLRenderedAsGiven: a path on the site or an https URL with a
// plain host is rendered as given, escaped.
func TestScriptURLRenderedAsGiven(t *testing.T) {
	for _, u := range []string{
		"/static/trustcaptcha/frontendlibrary.esm.js",
		"/w.js?v=1&x=2",
		"https://cdn.example/w.js",
		"https://cdn.example:8443/npm/w.js?a=1&b=2",
		widget.DefaultScriptURL,
	} {
		w, err := widget.New(widget.Options{SiteKey: siteKey, ScriptURL: u})
		require.NoError(t, err, u)
		assert.Contains(t, string(w.Page().Head), ` src="`+html.EscapeString(u)+`"`, u)
	}
}

// The field name has one source of truth: the widget.
func TestOneTokenField(t *testing.T) {
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	w, err := widget.New(widget.Options{SiteKey: siteKey, TokenField: "captcha"})
	require.NoError(t, err)
	assert.Equal(t, "captcha", w.TokenField())
	assert.Contains(t, string(w.Page().Element), `token-field-name="captcha"`)
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
	assert.NotContains(t, string(def.Page().Element), "token-field-name", "the default needs no attribute")
}

// FuzzScriptURL: whatever ScriptURL New accepts, a browser loads the script
// from the site itself (a path) or from the host the URL names plainly. The
// browser's reading is modelled as the WHATWG URL parser does it for http(s):
// tabs and newlines dropped, "\" read as "/", then resolved against the page.
func FuzzScriptURL(f *testing.F) {
	for _, s := range []string{"/static/w.js", "//evil.example/x.js", `/\evil.example/x.js`, `/\\evil.example/x.js`,
		"/\t/evil.example/x.js", "/\n/evil.example/x.js", "/\r\n/evil.example/x.js", "https://cdn.example/w.js",
		"https://cdn.example@evil.example/x.js", "HTTPS://cdn.example/w.js", "https:cdn.example", "https:///evil.example",
		" /x.js", "/x.js ", "\x00/x.js", widget.DefaultScriptURL} {
		f.Add(s)
	}
	page, _ := url.Parse("https://site.example/contact")
	plain := func(host string) bool {
		return host != "" && !strings.ContainsFunc(host, func(r rune) bool {
			return !(r == '.' || r == '-' || '0' <= r && r <= '9' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z')
		})
	}
	f.Fuzz(func(t *testing.T, u string) {
		if _, err := widget.New(widget.Options{SiteKey: siteKey, ScriptURL: u}); err != nil || u == "" {
			return
		}
		browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", `\`, "/").Replace(strings.Trim(u, "\x00 \x1f"))
		if strings.HasPrefix(u, "/") {
			if strings.HasPrefix(browser, "//") {
				t.Fatalf("accepted the path %q, which a browser reads as %q, on another host", u, browser)
			}
			return
		}
		ref, err := url.Parse(browser)
		if err != nil {
			t.Fatalf("accepted %q, which the browser's reading %q cannot parse: %v", u, browser, err)
		}
		got, want := page.ResolveReference(ref), ref
		if browser != u || got.Scheme != "https" || got.Host != want.Host || got.User != nil || !plain(got.Hostname()) {
			t.Fatalf("accepted %q, which a browser loads from %s://%s", u, got.Scheme, got.Host)
		}
	})
}
