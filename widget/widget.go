// Package widget renders the TrustCaptcha browser widget, the other half of
// the form RequireCaptcha protects: the <script type="module"> tag that loads
// it and the <trustcaptcha-component> element, with every attribute escaped,
// as template.HTML for html/template (templ: @templ.Raw(string(p.Head))),
// together with the Content-Security-Policy the widget needs, made with one
// nonce per response so that markup and policy cannot disagree.
//
//	w, err := widget.New(widget.Options{SiteKey: os.Getenv("TRUSTCAPTCHA_SITE_KEY")})
//	captcha := w.RequireCaptcha(trustcaptcha.Options{Verifier: client}) // same token field on both sides
//
//	p := w.Page() // per response
//	rw.Header().Set("Content-Security-Policy", p.Policy.String())
//	page.Execute(rw, struct{ Captcha widget.Page }{p}) // {{.Captcha.Head}} in <head>, {{.Captcha.Element}} in the <form>
//
// A page that sends no policy at all uses PageWithoutCSP. No call renders a
// script without a nonce beside a nonce policy, or falls back to
// 'unsafe-inline'.
//
// The widget needs (found in its code, version 3.0.2): its script (the module
// and the chunks it imports, from the CDN or your own host: the nonce covers
// both), fetch access to the API (connect-src), a Web Worker made from a
// blob: URL for the proof of work (worker-src blob:), and <style> elements
// (its start-up styles, and its component styles where the browser lacks
// constructable stylesheets) that it marks with the nonce it reads from
// <meta name="csp-nonce"> in the page's <head>, which Page.Head renders. So
// the policy of Page is, by directive:
//
//	script-src   'nonce-…'   the module and the chunks it imports (the nonce covers them)
//	connect-src  the API's origin (https://api.trustcomponent.com, or APIURL's)   its fetch calls
//	worker-src   blob:       the proof-of-work Web Worker
//	style-src    'nonce-…'   the <style> elements it adds
//
// The example's browser test serves its page with exactly this policy: the
// real widget solves and the form passes with no violation reported, and
// without worker-src or connect-src the browser blocks it and says why. A
// self-hosted ScriptURL needs no other source: the nonce covers it.
package widget

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"html"
	"html/template"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"unicode"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/internal/uuid"
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
	// ScriptURL is where the widget's module is loaded from: an absolute
	// https URL with a plain host name, or a path on your own site (such as
	// "/static/trustcaptcha/frontendlibrary.esm.js") to self-host the files
	// of the npm package @trustcomponent/trustcaptcha-frontend. A path starts
	// with one "/" that is not followed by another "/" or a "\", and neither
	// holds a "\", a control character or white space: a browser reads "\"
	// as "/" and drops tabs and newlines, so such a value could load a script
	// from another host with the page's nonce. Empty means DefaultScriptURL.
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
	o         Options
	element   template.HTML
	script    string // the script tag's src, escaped
	apiOrigin string // for connect-src
}

// New validates o and returns the Widget. The site key must be a UUID;
// APIURL an absolute http(s) URL; ScriptURL an absolute https URL with a
// plain host or a path on the site (see Options.ScriptURL); TokenField
// printable, without spaces or quotes. The error says which option is wrong
// and why.
func New(o Options) (*Widget, error) {
	if !uuid.Valid(o.SiteKey) {
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
	if err = checkScriptURL(o.ScriptURL); err != nil {
		return nil, fmt.Errorf("widget: Options.ScriptURL %q: %w", o.ScriptURL, err)
	}
	api := o.APIURL
	if api == "" {
		api = trustcaptcha.DefaultAPIHost
	}
	if w.apiOrigin, err = origin(api); err != nil {
		return nil, fmt.Errorf("widget: Options.APIURL: %w", err)
	}
	w.script = html.EscapeString(o.ScriptURL)
	w.element = template.HTML(w.render())
	return w, nil
}

// checkScriptURL accepts an absolute https URL with a plain host, or a path
// on the site, and says why anything else is refused.
func checkScriptURL(u string) error {
	if strings.ContainsFunc(u, func(r rune) bool { return r == '\\' || unicode.IsControl(r) || unicode.IsSpace(r) }) {
		return errors.New("holds a backslash, a control character or white space, which a browser reads differently")
	}
	if rest, ok := strings.CutPrefix(u, "/"); ok {
		if strings.HasPrefix(rest, "/") {
			return errors.New(`starts with "//", which a browser reads as another host; a path on the site starts with one "/"`)
		}
		return nil
	}
	if len(u) < len("https://") || !strings.EqualFold(u[:len("https://")], "https://") {
		return errors.New(`is neither an absolute https URL nor a path on the site starting with one "/"`)
	}
	if p, err := url.Parse(u); err != nil || p.User != nil || !plainHost.MatchString(p.Host) {
		return errors.New("does not name its host plainly: want https://host.example/… without user info")
	}
	return nil
}

// plainHost is a host name of letters, digits, dots and hyphens, with an
// optional port.
var plainHost = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$`)

// origin returns u's scheme://host, or an error when u is not an absolute
// http(s) URL.
func origin(u string) (string, error) {
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

// Page is everything one HTML response needs for the widget, made with one
// nonce so that the markup and the policy always match. Put Head inside the
// page's <head> (the widget reads the nonce for the styles it adds from the
// <meta> there), Element inside the <form>, and send Policy.String() as the
// Content-Security-Policy header. The page's own inline <script> and <style>
// elements carry nonce="{{.Nonce}}". The zero value renders nothing.
type Page struct {
	// Head is <meta name="csp-nonce"> and the <script type="module"> tag.
	Head template.HTML
	// Element is the <trustcaptcha-component> element.
	Element template.HTML
	// Policy is the Content-Security-Policy for the page (see Widget.Page);
	// nil from PageWithoutCSP.
	Policy Policy
	// Nonce is the response's nonce; empty from PageWithoutCSP.
	Nonce string
}

// String is what a template prints for {{.Captcha}} instead of
// {{.Captcha.Head}} and {{.Captcha.Element}}: a visible note that says so.
func (p Page) String() string {
	return "[widget.Page: write {{.X.Head}} inside <head> and {{.X.Element}} inside the <form>]"
}

// Page returns the widget's markup and its Content-Security-Policy for one
// response, with a fresh nonce:
//
//	default-src 'self'; script-src 'nonce-…'; style-src 'self' 'nonce-…';
//	connect-src 'self' <API>; worker-src blob:; object-src 'none';
//	base-uri 'none'; form-action 'self'
//
// Add what the rest of the page needs to Policy before sending it.
func (w *Widget) Page() Page {
	nonce := NewNonce()
	n := html.EscapeString(nonce)
	return Page{
		Head: template.HTML(`<meta name="csp-nonce" content="` + n + `"><script type="module" src="` + w.script +
			`" nonce="` + n + `"></script>`),
		Element: w.element,
		Nonce:   nonce,
		Policy: Policy{
			"default-src": {"'self'"},
			"script-src":  {"'nonce-" + nonce + "'"},
			"style-src":   {"'self'", "'nonce-" + nonce + "'"},
			"connect-src": {"'self'", w.apiOrigin},
			"worker-src":  {"blob:"},
			"object-src":  {"'none'"},
			"base-uri":    {"'none'"},
			"form-action": {"'self'"},
		},
	}
}

// PageWithoutCSP returns the widget's markup for a page that sends no
// Content-Security-Policy at all: no nonce, and a nil Policy. A page that
// sends a policy uses Page: the widget adds <style> elements that a policy
// without its nonce blocks.
func (w *Widget) PageWithoutCSP() Page {
	return Page{Head: template.HTML(`<script type="module" src="` + w.script + `"></script>`), Element: w.element}
}

// NewNonce returns a fresh random nonce (128 bits, unpadded base64url, so no
// character of it needs escaping in HTML) for one response's
// Content-Security-Policy, for a page that renders no widget. Page makes its
// own.
func NewNonce() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
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
