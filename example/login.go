package main

import (
	"crypto/subtle"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/widget"
)

// The login form, protected by step-up: the first few tries of a client (and
// of an account) need no CAPTCHA; past them, the page shows the widget and
// the POST must carry a solved one.

// The demo account.
const (
	demoUser     = "ada"
	demoPassword = "correct horse"
)

// loginAfter is how many tries without a CAPTCHA a client, or an account,
// gets in each window of loginWindow.
const (
	loginAfter  = 3
	loginWindow = 15 * time.Minute
)

// loginRoutes adds GET and POST /login to r: a router group that serves the
// page unchecked and protects the POST with captcha options opts, whose
// Required the StepUp su answers.
func (a *app) loginRoutes(r chi.Router, require func(trustcaptcha.Options) func(http.Handler) http.Handler,
	opts trustcaptcha.Options, su *trustcaptcha.StepUp) {
	a.stepUp = su
	opts.Required = su.Required
	opts.Skip = trustcaptcha.SkipSafeMethods
	opts.ErrorHandler = a.loginRejected
	r.Group(func(r chi.Router) {
		r.Use(require(opts))
		r.Get("/login", a.loginPage)
		r.Post("/login", a.loginSubmit)
	})
}

type loginData struct {
	Nonce      string
	Captcha    widget.Page // the real widget's markup, when there is one
	RealWidget bool
	ShowWidget bool
	User       string
	Message    string
	Welcome    bool
}

func (a *app) loginPage(w http.ResponseWriter, r *http.Request) {
	a.renderLogin(w, http.StatusOK, loginData{ShowWidget: a.stepUp.ShowWidget(r)})
}

// loginSubmit checks the password. A request that came without a verified
// CAPTCHA is first counted for its account: a login attacked from many
// addresses then asks for the CAPTCHA for that account.
func (a *app) loginSubmit(w http.ResponseWriter, r *http.Request) {
	user, password := strings.TrimSpace(r.PostFormValue("user")), r.PostFormValue("password")
	d := loginData{User: user}
	if _, verified := trustcaptcha.ResultFromContext(r.Context()); !verified && a.stepUp.RequiredFor(r, user) {
		d.Message, d.ShowWidget = "Too many tries for this account: solve the CAPTCHA to go on.", true
		a.renderLogin(w, http.StatusBadRequest, d)
		return
	}
	if !equal(user, demoUser) || !equal(password, demoPassword) {
		d.Message = "Wrong user name or password."
		d.ShowWidget = a.stepUp.ShowWidget(r) // the next try without a CAPTCHA would be refused
		a.renderLogin(w, http.StatusUnauthorized, d)
		return
	}
	d.Welcome = true
	a.renderLogin(w, http.StatusOK, d)
}

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// loginRejected answers a POST the middleware rejected: one that needed a
// CAPTCHA and came without one, or whose CAPTCHA did not pass.
func (a *app) loginRejected(w http.ResponseWriter, r *http.Request, err error) {
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		trustcaptcha.DefaultErrorHandler(w, r, err)
		return
	}
	d := loginData{User: r.PostFormValue("user"), ShowWidget: true,
		Message: "The CAPTCHA did not pass (" + trustcaptcha.PublicReason(err) + "): please solve it again."}
	if trustcaptcha.Reason(err) == "token-missing" {
		d.Message = "Please solve the CAPTCHA to log in."
	}
	w.Header().Set("Cache-Control", "no-store")
	a.renderLogin(w, trustcaptcha.StatusCode(err), d)
}

func (a *app) renderLogin(w http.ResponseWriter, code int, d loginData) {
	var policy widget.Policy
	d.Nonce, d.Captcha, policy = a.pagePolicy()
	d.RealWidget = a.widget != nil
	writePage(w, code, policy, loginTemplate, d)
}

var loginTemplate = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Log in: TrustCaptcha example</title>
{{if and .RealWidget .ShowWidget}}{{.Captcha.Head}}{{end}}
<style nonce="{{.Nonce}}">
body{font-family:system-ui,sans-serif;max-width:30rem;margin:2rem auto;padding:0 1rem;color:#222}
label{display:block;margin:.6rem 0 .2rem}input{width:100%;padding:.4rem;box-sizing:border-box}
button{margin:.6rem .4rem 0 0;padding:.5rem 1rem}.box{border:1px solid #ccc;border-radius:6px;padding:.8rem;margin:1rem 0}
.ok{color:#176b2c}.bad{color:#a11}small{color:#666}
</style>
</head><body>
<h1>Log in</h1>
{{if .Welcome}}
  <p id="welcome" class="ok">Welcome, {{.User}}!</p>
  <p><a href="/login">Log in again</a></p>
{{else}}
<p><small>Demo account: <code>` + demoUser + `</code> / <code>` + demoPassword + `</code>. The first few tries
need no CAPTCHA; after a few wrong passwords the page asks for one.</small></p>
{{if .Message}}<p id="message" class="bad">{{.Message}}</p>{{end}}
<form id="login" method="post" action="/login">
  <label for="user">User</label><input id="user" name="user" value="{{.User}}" autocomplete="username">
  <label for="password">Password</label><input id="password" name="password" type="password"
    autocomplete="current-password">
  {{if .ShowWidget}}
  {{if .RealWidget}}
  <div class="box">{{.Captcha.Element}}</div>
  {{else}}
  <div class="box" id="demo-widget">
    <strong>Demo widget</strong> <small>(tokens come from the fake API)</small><br>
    <button type="button" data-as="human">I'm a human</button>
    <button type="button" data-as="bot">I'm a bot</button>
    <p id="demo-status"><small>Pick one to get a verification token.</small></p>
    <input type="hidden" name="tc-verification-token" id="tc-verification-token">
  </div>
  <script nonce="{{.Nonce}}">
  document.querySelectorAll('#demo-widget button').forEach(b => b.addEventListener('click', async () => {
    const r = await fetch('/demo/token?as=' + b.dataset.as);
    document.getElementById('tc-verification-token').value = (await r.json()).token;
    document.getElementById('demo-status').textContent = 'Token ready (' + b.dataset.as + ').';
  }));
  </script>
  {{end}}
  {{end}}
  <button type="submit" id="log-in">Log in</button>
</form>
{{end}}
</body></html>
`))
