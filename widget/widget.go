// Package widget renders the TrustCaptcha browser widget, the other half of
// the form RequireCaptcha protects: the <script type="module"> tag that loads
// it and the <trustcaptcha-component> element, with every attribute escaped,
// for html/template (as template.HTML) and for templ (Tags is a
// templ.Component without importing templ), and the Content-Security-Policy
// the widget needs, with a nonce per request.
//
//	w, err := widget.New(widget.Options{SiteKey: os.Getenv("TRUSTCAPTCHA_SITE_KEY")})
//	captcha := w.RequireCaptcha(trustcaptcha.Options{Verifier: client}) // same token field on both sides
//
//	nonce := widget.NewNonce()
//	rw.Header().Set("Content-Security-Policy", w.CSP(nonce).String())
//	page.Execute(rw, struct{ Captcha widget.Tags }{w.Tags(nonce)}) // {{.Captcha.HTML}} inside the <form>
//
// The widget needs (found in its code, version 3.0.2): its script (the module
// and the chunks it imports, from the CDN or your own host: the nonce covers
// both), fetch access to the API (connect-src), a Web Worker made from a
// blob: URL for the proof of work (worker-src blob:), and, where the browser
// lacks constructable stylesheets, <style> elements it marks with the nonce
// it reads from <meta name="csp-nonce">, which Script renders.
package widget

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"

	"github.com/captchakit/trustcaptcha"
)

// DefaultScriptURL is the widget's module on the jsDelivr CDN, at the version
// this package was tested with.
const DefaultScriptURL = "https://cdn.jsdelivr.net/npm/@trustcomponent/trustcaptcha-frontend@3.0.2/dist/frontendlibrary/frontendlibrary.esm.js"

// Options are the widget's attributes. Only SiteKey is required; every zero
// value leaves the widget's own default.
type Options struct {
	// SiteKey is the CAPTCHA's site key from the TrustCaptcha dashboard (a
	// UUID; the public one, not the API key). Required.
	SiteKey string
	// TokenField is the name of the hidden form field the widget fills.
	// Empty means trustcaptcha.DefaultTokenField ("tc-verification-token"),
	// which is also RequireCaptcha's default.
	TokenField string
	// APIURL is the API the widget talks to (attribute api-url): a
	// trustcaptchatest server's URL in tests, a proxy or a self-hosted API.
	// Empty means the widget's default, trustcaptcha.DefaultAPIHost.
	APIURL string
	// ScriptURL is where the widget's module is loaded from: an absolute URL,
	// or a path on your own host (such as "/static/trustcaptcha/
	// frontendlibrary.esm.js") to self-host the files of the npm package
	// @trustcomponent/trustcaptcha-frontend. Empty means DefaultScriptURL.
	ScriptURL string
	// Language is the widget's language (attribute language, such as "en"
	// or "de"). Empty means the widget's default (the browser's language).
	Language string
	// Theme is the widget's theme (attribute theme, such as "light" or
	// "dark"). Empty means the widget's default.
	Theme string
	// Invisible runs the widget without a visible box. False shows it.
	Invisible bool
	// AutostartDisabled makes the widget wait for a click before it starts
	// solving. False starts it at once.
	AutostartDisabled bool
	// FailoverEnabled lets the widget make its own failover token when the
	// browser cannot reach the API; RequireCaptcha admits such a token only
	// under a policy that trusts client-reported failover. False means off.
	FailoverEnabled bool
	// MinimalDataMode asks the API to keep as little data as possible (the
	// result then has no IP address, so MatchClientIP rejects it). False
	// means off.
	MinimalDataMode bool
}

// Widget is a validated widget configuration; make one with New (the zero
// value is not usable). It is immutable and safe for concurrent use.
type Widget struct {
	o       Options
	element template.HTML
	script  string // the script tag's src, escaped
	origins struct{ script, api string }
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// New validates o and returns the Widget. The site key must be a UUID;
// APIURL an absolute http(s) URL; ScriptURL an absolute http(s) URL or a
// path starting with "/"; TokenField printable, without spaces or quotes.
func New(o Options) (*Widget, error) {
	if !uuidRE.MatchString(o.SiteKey) {
		return nil, errors.New("widget: Options.SiteKey must be the site key from the dashboard, a UUID")
	}
	if o.TokenField == "" {
		o.TokenField = trustcaptcha.DefaultTokenField
	}
	if strings.ContainsAny(o.TokenField, " \t\r\n\"'`<>=") {
		return nil, fmt.Errorf("widget: Options.TokenField %q: no spaces, quotes or <>= in a field name", o.TokenField)
	}
	if o.ScriptURL == "" {
		o.ScriptURL = DefaultScriptURL
	}
	w := &Widget{o: o}
	var err error
	if w.origins.script, err = origin(o.ScriptURL, true); err != nil {
		return nil, fmt.Errorf("widget: Options.ScriptURL: %w", err)
	}
	api := o.APIURL
	if api == "" {
		api = trustcaptcha.DefaultAPIHost
	}
	if w.origins.api, err = origin(api, false); err != nil {
		return nil, fmt.Errorf("widget: Options.APIURL: %w", err)
	}
	w.script = html.EscapeString(o.ScriptURL)
	w.element = template.HTML(w.render())
	return w, nil
}

// origin returns u's scheme://host, or "'self'" for a path when paths are
// allowed.
func origin(u string, pathOK bool) (string, error) {
	if pathOK && strings.HasPrefix(u, "/") && !strings.HasPrefix(u, "//") {
		return "'self'", nil
	}
	p, err := url.Parse(u)
	if err != nil || (p.Scheme != "https" && p.Scheme != "http") || p.Host == "" || p.User != nil {
		return "", fmt.Errorf("%q is not an absolute http(s) URL", u)
	}
	return p.Scheme + "://" + p.Host, nil
}

func (w *Widget) render() string {
	var b strings.Builder
	attr := func(name, value string) {
		if value != "" {
			fmt.Fprintf(&b, ` %s="%s"`, name, html.EscapeString(value))
		}
	}
	flag := func(name string, on bool) {
		if on {
			attr(name, "true")
		}
	}
	b.WriteString("<trustcaptcha-component")
	attr("sitekey", w.o.SiteKey)
	if w.o.TokenField != trustcaptcha.DefaultTokenField {
		attr("token-field-name", w.o.TokenField)
	}
	attr("api-url", w.o.APIURL)
	attr("language", w.o.Language)
	attr("theme", w.o.Theme)
	flag("invisible", w.o.Invisible)
	flag("autostart-disabled", w.o.AutostartDisabled)
	flag("failover-enabled", w.o.FailoverEnabled)
	flag("minimal-data-mode", w.o.MinimalDataMode)
	b.WriteString("></trustcaptcha-component>")
	return b.String()
}

// TokenField returns the form field the widget fills: what RequireCaptcha
// must read.
func (w *Widget) TokenField() string { return w.o.TokenField }

// Element returns the <trustcaptcha-component> element. Place it inside the
// <form> it protects.
func (w *Widget) Element() template.HTML { return w.element }

// Script returns the <script type="module"> tag that loads the widget, and,
// when nonce is not empty, the nonce on it and a <meta name="csp-nonce"> the
// widget reads for the styles it adds. Place it in the page's <head>. It
// panics on a nonce that is not base64.
func (w *Widget) Script(nonce string) template.HTML {
	checkNonce(nonce)
	if nonce == "" {
		return template.HTML(`<script type="module" src="` + w.script + `"></script>`)
	}
	n := html.EscapeString(nonce)
	return template.HTML(`<meta name="csp-nonce" content="` + n + `"><script type="module" src="` + w.script +
		`" nonce="` + n + `"></script>`)
}

// Tags is the widget's whole markup for one page: Script and Element. In
// html/template write {{.Captcha.HTML}} inside the form; in templ write
// @captcha, since Tags is a templ.Component. The zero value renders nothing.
type Tags struct{ html template.HTML }

// Tags returns Script(nonce) followed by Element(), for a page that puts both
// inside its form. An empty nonce renders none.
func (w *Widget) Tags(nonce string) Tags { return Tags{w.Script(nonce) + w.element} }

// HTML returns the markup, safe for html/template.
func (t Tags) HTML() template.HTML { return t.html }

// String returns the markup.
func (t Tags) String() string { return string(t.html) }

// Render writes the markup to out: the method of templ.Component.
func (t Tags) Render(_ context.Context, out io.Writer) error {
	_, err := io.WriteString(out, string(t.html))
	return err
}

var nonceRE = regexp.MustCompile(`^[A-Za-z0-9+/_-]*=*$`)

// checkNonce panics on a nonce that is not base64: it goes into a header.
func checkNonce(nonce string) {
	if !nonceRE.MatchString(nonce) {
		panic(fmt.Sprintf("widget: nonce %q is not base64 (use NewNonce)", nonce))
	}
}

// NewNonce returns a fresh random nonce (128 bits, base64) for one response's
// Content-Security-Policy.
func NewNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// Policy is a Content-Security-Policy: sources by directive. Add what your
// page needs besides the widget, then send String() as the header. A nil
// Policy is the empty policy.
type Policy map[string][]string

// String returns the policy in header form, directives in a fixed order.
func (p Policy) String() string {
	names := make([]string, 0, len(p))
	for name := range p {
		names = append(names, name)
	}
	slices.Sort(names)
	parts := make([]string, 0, len(names))
	for _, name := range names {
		parts = append(parts, strings.TrimSpace(name+" "+strings.Join(p[name], " ")))
	}
	return strings.Join(parts, "; ")
}

// CSP returns a strict policy for a page that loads its own resources from
// itself and nothing else but the widget:
//
//	default-src 'self'; script-src 'nonce-…'; style-src 'self' 'nonce-…';
//	connect-src 'self' <API>; worker-src blob:; object-src 'none';
//	base-uri 'none'; form-action 'self'
//
// With an empty nonce, script-src names the script's origin instead (the CDN,
// or 'self' for a self-hosted script) and style-src is 'self'
// 'unsafe-inline'. Every <script> and <style> of the page must then carry
// the nonce. It panics on a nonce that is not base64.
func (w *Widget) CSP(nonce string) Policy {
	checkNonce(nonce)
	p := Policy{
		"default-src": {"'self'"},
		"connect-src": {"'self'", w.origins.api},
		"worker-src":  {"blob:"},
		"object-src":  {"'none'"},
		"base-uri":    {"'none'"},
		"form-action": {"'self'"},
	}
	if nonce == "" {
		p["script-src"] = []string{w.origins.script}
		p["style-src"] = []string{"'self'", "'unsafe-inline'"}
	} else {
		p["script-src"] = []string{"'nonce-" + nonce + "'"}
		p["style-src"] = []string{"'self'", "'nonce-" + nonce + "'"}
	}
	return p
}

// CheckOptions reports an error when opts would not read the token field
// this widget fills.
func (w *Widget) CheckOptions(opts trustcaptcha.Options) error {
	field := opts.TokenField
	if field == "" {
		field = trustcaptcha.DefaultTokenField
	}
	if field != w.o.TokenField {
		return fmt.Errorf("widget: the widget fills %q but Options.TokenField reads %q", w.o.TokenField, field)
	}
	return nil
}

// RequireCaptcha is trustcaptcha.RequireCaptcha with Options.TokenField set
// to the field this widget fills, so the two cannot drift. It panics, as
// RequireCaptcha does on a wiring mistake, when opts names another field.
func (w *Widget) RequireCaptcha(opts trustcaptcha.Options) func(http.Handler) http.Handler {
	if opts.TokenField == "" {
		opts.TokenField = w.o.TokenField
	}
	if err := w.CheckOptions(opts); err != nil {
		panic(err.Error())
	}
	return trustcaptcha.RequireCaptcha(opts)
}
