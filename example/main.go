// Command example is a small server with a contact form and a JSON endpoint,
// both protected by TrustCaptcha: the form in a chi router group, the JSON
// endpoint as a net/http ServeMux route. Its login form on /login asks for
// the CAPTCHA only after a few wrong passwords (step-up; demo account ada,
// password "correct horse").
//
//	go run ./example
//
// With no TRUSTCAPTCHA_API_KEY it needs no account and no network: it starts
// the fake TrustCaptcha API (trustcaptchatest) in-process and serves a demo
// widget that gets tokens from it (act as a human, a bot, or during an API
// outage). With -widget real it serves the real <trustcaptcha-component>
// against the fake instead (its files come from npm: `go test ./example/...`
// installs them into e2e/node_modules).
//
// With TRUSTCAPTCHA_API_KEY and TRUSTCAPTCHA_SITE_KEY set it serves the real
// widget and verifies with the real API (TRUSTCAPTCHA_API_HOST to use another
// host). With REDIS_URL set, single-use claims and the failover budget live
// in Redis, shared by every instance.
//
// Flags (or environment): -addr (ADDR, default 127.0.0.1:8080), -threshold
// (TRUSTCAPTCHA_THRESHOLD, default 0.5), -failover
// closed|open|limited|trust-client (TRUSTCAPTCHA_FAILOVER, default closed),
// -widget demo|real (TRUSTCAPTCHA_WIDGET, default demo), -widget-dir
// (TRUSTCAPTCHA_WIDGET_DIR), -widget-api-url (TRUSTCAPTCHA_WIDGET_API_URL),
// -widget-failover (TRUSTCAPTCHA_WIDGET_FAILOVER=true). -h lists them. Every
// decision is logged with log/slog and counted in the OpenTelemetry metrics
// served on /metrics (Prometheus format).
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/redis/go-redis/v9"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/otelcaptcha"
	"github.com/captchakit/trustcaptcha/redisstore"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
	"github.com/captchakit/trustcaptcha/widget"
)

// config is what the flags and environment set.
type config struct {
	Addr      string
	Threshold float64
	Failover  string
	// Widget is "demo" (buttons that fetch tokens from the fake API) or
	// "real" (the real <trustcaptcha-component>, from WidgetDir).
	Widget    string
	WidgetDir string // the real widget's dist/frontendlibrary folder, if any
	// WidgetAPIURL overrides the api-url the widget talks to (default: the
	// API the server uses).
	WidgetAPIURL string
	// WidgetFailover sets the widget's failover-enabled attribute.
	WidgetFailover bool
	APIKey         string
	SiteKey        string
	APIHost        string
	// RedisURL, when set, keeps the single-use claims and the failover
	// budget in Redis, shared by every instance (default: this process).
	RedisURL string
}

// widgetCandidates are where the e2e test's npm install puts the widget.
var widgetCandidates = []string{
	"e2e/node_modules/@trustcomponent/trustcaptcha-frontend/dist/frontendlibrary",
	"../e2e/node_modules/@trustcomponent/trustcaptcha-frontend/dist/frontendlibrary",
}

func main() {
	if err := run(os.Args[1:], os.Stdout); errors.Is(err, flag.ErrHelp) {
		os.Exit(0) // -h: the usage was printed
	} else if err != nil {
		fmt.Fprintln(os.Stderr, "example:", err)
		os.Exit(1)
	}
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// envOnly are the settings that have no flag (keys stay out of the
// process list).
var envOnly = [][2]string{
	{"TRUSTCAPTCHA_API_KEY, TRUSTCAPTCHA_SITE_KEY", "use the real TrustCaptcha API and the real widget (default: the built-in fake API)"},
	{"TRUSTCAPTCHA_API_HOST", "another API host: self-hosted, a proxy (default " + trustcaptcha.DefaultAPIHost + ")"},
	{"REDIS_URL", "keep single-use claims and the failover budget in Redis, such as redis://127.0.0.1:6379/0"},
}

func parseConfig(args []string) (config, error) {
	return parseConfigTo(args, os.Stderr)
}

// parseConfigTo parses args; -h writes the usage, with the environment
// variables, to usage.
func parseConfigTo(args []string, usage io.Writer) (config, error) {
	fs := flag.NewFlagSet("example", flag.ContinueOnError)
	fs.SetOutput(usage)
	fs.Usage = func() {
		fmt.Fprintf(usage, "Usage: go run ./example [flags]\n\nFlags (each also set by the environment variable named):\n")
		fs.PrintDefaults()
		fmt.Fprintf(usage, "\nEnvironment only:\n")
		for _, e := range envOnly {
			fmt.Fprintf(usage, "  %s\n    \t%s\n", e[0], e[1])
		}
	}
	var cfg config
	threshold, err := strconv.ParseFloat(envOr("TRUSTCAPTCHA_THRESHOLD", "0.5"), 64)
	if err != nil {
		return cfg, fmt.Errorf("TRUSTCAPTCHA_THRESHOLD: %w", err)
	}
	fs.StringVar(&cfg.Addr, "addr", envOr("ADDR", "127.0.0.1:8080"), "listen address [$ADDR]")
	fs.Float64Var(&cfg.Threshold, "threshold", threshold, "highest bot score admitted (0..1) [$TRUSTCAPTCHA_THRESHOLD]")
	fs.StringVar(&cfg.Failover, "failover", envOr("TRUSTCAPTCHA_FAILOVER", "closed"), "closed, open, limited (open, at most 10 a minute) or trust-client (limited, and admitting client-reported failover) [$TRUSTCAPTCHA_FAILOVER]")
	fs.StringVar(&cfg.Widget, "widget", envOr("TRUSTCAPTCHA_WIDGET", "demo"), "demo (three buttons, no files needed) or real (the real widget from -widget-dir; always real with an API key) [$TRUSTCAPTCHA_WIDGET]")
	fs.StringVar(&cfg.WidgetDir, "widget-dir", os.Getenv("TRUSTCAPTCHA_WIDGET_DIR"), "folder of the real widget (dist/frontendlibrary); default: e2e/node_modules, where go test installs it [$TRUSTCAPTCHA_WIDGET_DIR]")
	fs.StringVar(&cfg.WidgetAPIURL, "widget-api-url", os.Getenv("TRUSTCAPTCHA_WIDGET_API_URL"), "api-url for the widget (default: the API the server uses) [$TRUSTCAPTCHA_WIDGET_API_URL]")
	fs.BoolVar(&cfg.WidgetFailover, "widget-failover", os.Getenv("TRUSTCAPTCHA_WIDGET_FAILOVER") == "true", "let the widget make its own failover token when it cannot reach the API [$TRUSTCAPTCHA_WIDGET_FAILOVER=true]")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	cfg.APIKey, cfg.SiteKey, cfg.APIHost = os.Getenv("TRUSTCAPTCHA_API_KEY"), os.Getenv("TRUSTCAPTCHA_SITE_KEY"), os.Getenv("TRUSTCAPTCHA_API_HOST")
	cfg.RedisURL = os.Getenv("REDIS_URL")
	if cfg.APIKey != "" && cfg.Widget == "demo" && cfg.WidgetDir == "" {
		cfg.Widget = "real" // the demo buttons need the fake API; live mode serves the widget from its CDN
	}
	switch cfg.Widget {
	case "demo":
		cfg.WidgetDir = ""
	case "real":
		for _, c := range widgetCandidates {
			if cfg.WidgetDir != "" {
				break
			}
			if _, err := os.Stat(filepath.Join(c, "frontendlibrary.esm.js")); err == nil {
				cfg.WidgetDir = c
			}
		}
		if cfg.WidgetDir == "" && cfg.APIKey == "" {
			return cfg, errors.New("-widget real: the widget's files were not found; run `go test ./example/...` once " +
				"(it installs them into e2e/node_modules with npm) or set -widget-dir")
		}
		if cfg.WidgetDir != "" {
			js := filepath.Join(cfg.WidgetDir, "frontendlibrary.esm.js")
			if _, err := os.Stat(js); err != nil {
				return cfg, fmt.Errorf("-widget-dir %s: no frontendlibrary.esm.js there (%v); point it at the "+
					"dist/frontendlibrary folder of the npm package @trustcomponent/trustcaptcha-frontend", cfg.WidgetDir, err)
			}
		}
	default:
		return cfg, fmt.Errorf("-widget %q: want demo or real", cfg.Widget)
	}
	return cfg, nil
}

func run(args []string, out io.Writer) error {
	cfg, err := parseConfig(args)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	app, err := newApp(cfg, logger)
	if err != nil {
		return err
	}
	defer app.Close()

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: app, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	fmt.Fprintf(out, "TrustCaptcha example (%s) on http://%s/contact\n", app.mode, ln.Addr())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// app is the example's whole handler.
type app struct {
	http.Handler
	mode   string
	fake   *trustcaptchatest.Server // nil with a real API key
	widget *widget.Widget           // nil for the demo widget
	page   pageData
	stepUp *trustcaptcha.StepUp // the login's
}

// Close stops the in-process fake API, if any.
func (a *app) Close() {
	if a.fake != nil {
		a.fake.Close()
	}
}

type pageData struct {
	Mode           string // "demo", "widget" (real widget, fake API) or "live"
	WidgetFailover bool
	SiteKey        string
	APIURL         string
	WidgetJS       string
	Nonce          string      // this response's CSP nonce
	Captcha        widget.Page // the real widget's markup and policy
	Threshold      float64
	Failover       string
	Name           string
	Message        string
	Score          string
	Failover2      bool
	Reason         string
	Precise        string // Reason(err): for the operator; shown here because this is a demo
	Why            string
	StatusCode     int
}

// failoverPolicy is the -failover policy; the budget of the limited ones is
// counted by budget (this process's memory, or Redis for a fleet).
func failoverPolicy(name string, budget trustcaptcha.Counter) (trustcaptcha.FailoverPolicy, error) {
	switch name {
	case "closed", "":
		return trustcaptcha.FailClosed, nil
	case "open":
		return trustcaptcha.FailOpen, nil
	case "limited":
		return trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 10, time.Minute, budget), nil
	case "trust-client":
		return trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpenTrustingClientFailover, 10, time.Minute, budget), nil
	}
	return nil, fmt.Errorf("-failover %q: want closed, open, limited or trust-client", name)
}

func newApp(cfg config, logger *slog.Logger) (*app, error) {
	// Single use and the failover budget: this process's memory, or Redis
	// shared by a fleet.
	var store interface {
		trustcaptcha.ReplayStore
		trustcaptcha.Counter
	} = trustcaptcha.NewMemoryStore()
	storeName := "memory"
	if cfg.RedisURL != "" {
		opt, err := redis.ParseURL(cfg.RedisURL)
		if err != nil {
			return nil, fmt.Errorf("REDIS_URL: %w", err)
		}
		store, storeName = redisstore.New(redis.NewClient(opt)), "redis"
	}
	policy, err := failoverPolicy(cfg.Failover, store)
	if err != nil {
		return nil, err
	}
	if cfg.Threshold < 0 || cfg.Threshold > 1 {
		return nil, fmt.Errorf("-threshold %v: want 0..1", cfg.Threshold)
	}
	a := &app{page: pageData{Threshold: cfg.Threshold, Failover: cfg.Failover}}
	var client *trustcaptcha.Client
	switch {
	case cfg.APIKey != "":
		if cfg.SiteKey == "" {
			return nil, errors.New("TRUSTCAPTCHA_API_KEY is set: set TRUSTCAPTCHA_SITE_KEY too")
		}
		opts := []trustcaptcha.ClientOption{}
		if cfg.APIHost != "" {
			opts = append(opts, trustcaptcha.WithAPIHost(cfg.APIHost))
		}
		if client, err = trustcaptcha.NewClient(cfg.APIKey, opts...); err != nil {
			return nil, err
		}
		a.mode = "live"
		a.page.SiteKey, a.page.APIURL = cfg.SiteKey, orDefault(cfg.APIHost, trustcaptcha.DefaultAPIHost)
		a.page.WidgetJS = widget.DefaultScriptURL
	default:
		a.fake = trustcaptchatest.NewServer()
		client = a.fake.Client()
		a.mode = "demo"
		a.page.SiteKey, a.page.APIURL = a.fake.SiteKey(), a.fake.URL
	}
	if cfg.WidgetDir != "" {
		a.page.WidgetJS = "/widget/frontendlibrary.esm.js"
		if a.mode == "demo" {
			a.mode = "widget"
		}
	}
	a.page.Mode = a.mode
	if cfg.WidgetAPIURL != "" {
		a.page.APIURL = cfg.WidgetAPIURL
	}
	a.page.WidgetFailover = cfg.WidgetFailover
	if a.page.WidgetJS != "" {
		// The real widget, rendered by package widget: the same token field
		// as the middleware, and the Content-Security-Policy it needs.
		wo := widget.Options{SiteKey: a.page.SiteKey, ScriptURL: a.page.WidgetJS, Language: "en",
			FailoverEnabled: cfg.WidgetFailover}
		if a.page.APIURL != trustcaptcha.DefaultAPIHost {
			wo.APIURL = a.page.APIURL
		}
		if a.widget, err = widget.New(wo); err != nil {
			return nil, err
		}
	}
	a.mode = map[string]string{
		"demo":   "demo widget (three buttons; -widget real for the real one) on the built-in fake API",
		"widget": "real widget from " + cfg.WidgetDir + " on the built-in fake API",
		"live":   "real widget against the TrustCaptcha API",
	}[a.mode] + ", single-use claims in " + storeName

	// Metrics: OpenTelemetry's SDK with its Prometheus exporter, served on
	// /metrics; otelcaptcha counts the decisions and watches the client.
	metrics, inst, err := newMetrics()
	if err != nil {
		return nil, err
	}
	if err := inst.ObserveClient(client); err != nil {
		return nil, err
	}

	require := trustcaptcha.RequireCaptcha
	if a.widget != nil {
		require = a.widget.RequireCaptcha // Options.TokenField from the widget
	}
	opts := trustcaptcha.Options{
		Verifier:     inst.Verifier(client),
		ReplayStore:  store,
		Threshold:    cfg.Threshold,
		Failover:     policy,
		Skip:         trustcaptcha.SkipSafeMethods,
		ErrorHandler: a.reject,
		Logger:       logger,
		OnDecision: func(r *http.Request, d trustcaptcha.Decision) {
			inst.OnDecision(r, d)
			logger.LogAttrs(r.Context(), slog.LevelInfo, "captcha decision",
				slog.String("path", r.URL.Path), slog.Bool("admitted", d.Admitted), slog.String("reason", d.Reason),
				slog.Float64("score", d.Score), slog.Bool("failover", d.Failover), slog.Duration("latency", d.Latency))
		},
	}
	captcha := require(opts)

	// The HTML form: a chi router group that serves the page (GET, skipped)
	// and protects its POST.
	r := chi.NewRouter()
	r.Get("/", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/contact", http.StatusFound) })
	r.Group(func(r chi.Router) {
		r.Use(captcha)
		r.Get("/contact", a.contactPage)
		r.Post("/contact", a.contactSubmit)
	})
	// The login form: step-up, a CAPTCHA only after a few tries.
	a.loginRoutes(r, require, opts, trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{
		After: loginAfter, Per: loginWindow, Name: "login", Counter: store}))

	// The JSON endpoint: a net/http ServeMux route. Its pattern names no
	// method, as chi's do not, so the metrics label every route one way
	// (http.route "/contact", "/api/subscribe"); subscribe answers POST only.
	mux := http.NewServeMux()
	mux.Handle("/api/subscribe", captcha(http.HandlerFunc(subscribe)))
	if a.fake != nil {
		mux.HandleFunc("GET /demo/token", a.demoToken)
	}
	if cfg.WidgetDir != "" {
		mux.Handle("GET /widget/", http.StripPrefix("/widget/", http.FileServer(http.Dir(cfg.WidgetDir))))
	}
	mux.Handle("GET /metrics", metrics)
	mux.Handle("/", r)
	a.Handler = mux
	return a, nil
}

// newMetrics is an OpenTelemetry MeterProvider whose Prometheus exporter
// serves its own registry (one per app, so tests can start several), and
// the otelcaptcha instrumentation on it.
func newMetrics() (http.Handler, *otelcaptcha.Instrumentation, error) {
	reg := prometheus.NewRegistry()
	exp, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo(), otelprom.WithoutTargetInfo())
	if err != nil {
		return nil, nil, err
	}
	inst, err := otelcaptcha.New(otelcaptcha.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(exp))))
	if err != nil {
		return nil, nil, err
	}
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{}), inst, nil
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func (a *app) contactPage(w http.ResponseWriter, r *http.Request) {
	a.render(w, http.StatusOK, a.page)
}

func (a *app) contactSubmit(w http.ResponseWriter, r *http.Request) {
	p := a.page
	p.Mode = "thanks"
	p.Name, p.Message = r.PostFormValue("name"), r.PostFormValue("message")
	if res, ok := trustcaptcha.ResultFromContext(r.Context()); ok {
		p.Score = strconv.FormatFloat(res.Score, 'f', 2, 64)
	}
	p.Failover2 = trustcaptcha.AdmittedByFailover(r.Context())
	a.render(w, http.StatusOK, p)
}

// reject shows browsers an HTML page and gives API clients the default
// problem+json answer.
func (a *app) reject(w http.ResponseWriter, r *http.Request, err error) {
	if !strings.Contains(r.Header.Get("Accept"), "text/html") {
		trustcaptcha.DefaultErrorHandler(w, r, err)
		return
	}
	p := a.page
	p.Mode = "rejected"
	p.Reason = trustcaptcha.PublicReason(err)
	p.Precise = trustcaptcha.Reason(err)
	p.StatusCode = trustcaptcha.StatusCode(err)
	switch {
	case errors.Is(err, trustcaptcha.ErrBreakerOpen):
		p.Why = fmt.Sprintf("The API failed %d times in a row, so the client's outage breaker stopped calling it: "+
			"after half a second one request probes the API (each failed probe doubles the wait, up to %v) and, "+
			"if it answers, the breaker closes. Until then the failover policy (-failover %s) decides every "+
			"request, a human's too.",
			5, 10*time.Second, a.page.Failover) // the Client's default breaker
	case errors.Is(err, trustcaptcha.ErrServerUnreachable):
		p.Why = "The TrustCaptcha API could not be reached, and the failover policy (-failover " + a.page.Failover +
			") did not admit the request."
	case errors.Is(err, trustcaptcha.ErrTokenReused):
		p.Why = "Each solved CAPTCHA admits one request: get a new token and send again."
	}
	w.Header().Set("Cache-Control", "no-store")
	a.render(w, p.StatusCode, p)
}

func subscribe(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var body struct {
		Email string `json:"email"`
	}
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || !strings.Contains(body.Email, "@") {
		http.Error(w, `{"error":"email required"}`, http.StatusUnprocessableEntity)
		return
	}
	out := map[string]any{"subscribed": body.Email, "admittedByFailover": trustcaptcha.AdmittedByFailover(r.Context())}
	if res, ok := trustcaptcha.ResultFromContext(r.Context()); ok {
		out["score"] = res.Score
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// demoToken plays the widget in demo mode: it asks the fake API for a token
// of a human, a bot, or one whose verification finds the API down.
func (a *app) demoToken(w http.ResponseWriter, r *http.Request) {
	var tok string
	switch r.URL.Query().Get("as") {
	case "human":
		tok = a.fake.Human()
	case "bot":
		tok = a.fake.Bot()
	case "outage":
		tok = a.fake.Human()
		a.fake.ForceStatus(tok, http.StatusServiceUnavailable)
	default:
		http.Error(w, "as=human|bot|outage", http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]string{"token": tok})
}

// pagePolicy returns a fresh nonce, the real widget's markup with it (if
// there is a real widget) and the page's Content-Security-Policy: the
// widget's own (package widget), or, for the demo widget, one that lets only
// the page's nonced script and style run.
func (a *app) pagePolicy() (nonce string, captcha widget.Page, policy widget.Policy) {
	if a.widget != nil {
		captcha = a.widget.Page()
		return captcha.Nonce, captcha, captcha.Policy
	}
	nonce = widget.NewNonce()
	return nonce, captcha, widget.Policy{
		"default-src": {"'self'"}, "script-src": {"'nonce-" + nonce + "'"},
		"style-src": {"'self'", "'nonce-" + nonce + "'"}, "object-src": {"'none'"},
		"base-uri": {"'none'"}, "form-action": {"'self'"},
	}
}

// render writes the page under a strict Content-Security-Policy with a fresh
// nonce: the widget's own policy (package widget), or, for the demo widget,
// one that lets only the page's nonced script and style run.
func (a *app) render(w http.ResponseWriter, code int, p pageData) {
	var policy widget.Policy
	p.Nonce, p.Captcha, policy = a.pagePolicy()
	writePage(w, code, policy, page, p)
}

// writePage answers code with the HTML of tmpl for data, under policy.
func writePage(w http.ResponseWriter, code int, policy widget.Policy, tmpl *template.Template, data any) {
	w.Header().Set("Content-Security-Policy", policy.String())
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	if err := tmpl.Execute(w, data); err != nil {
		slog.Error("rendering "+tmpl.Name(), "error", err)
	}
}

var page = template.Must(template.New("page").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>TrustCaptcha example</title>
{{if .WidgetJS}}{{.Captcha.Head}}{{end}}
<style nonce="{{.Nonce}}">
body{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;color:#222}
label{display:block;margin:.6rem 0 .2rem}input,textarea{width:100%;padding:.4rem;box-sizing:border-box}
button{margin:.6rem .4rem 0 0;padding:.5rem 1rem}.box{border:1px solid #ccc;border-radius:6px;padding:.8rem;margin:1rem 0}
pre{white-space:pre-wrap;word-break:break-all}.ok{color:#176b2c}.bad{color:#a11}small{color:#666}
</style>
</head><body>
<h1>Contact us</h1>
<p><small>Threshold {{.Threshold}} · failover {{.Failover}} ·
{{if eq .Mode "live"}}real widget, real API{{else if .WidgetJS}}real widget, fake API{{else}}demo widget, fake API{{end}}
· <a href="/login">login with step-up</a> · <a href="/metrics">metrics</a></small></p>
{{if eq .Mode "thanks"}}
  <p id="result" class="ok">Thanks, {{.Name}}! Your message was accepted{{if .Score}} (bot score {{.Score}}){{end}}.</p>
  {{if .Failover2}}<p id="failover" class="bad">The CAPTCHA API was unreachable: accepted on failover, held for moderation.</p>{{end}}
  <p><a href="/contact">Back</a></p>
{{else if eq .Mode "rejected"}}
  <p id="result" class="bad">Your message was rejected ({{.StatusCode}}): <code id="reason">{{.Reason}}</code>.</p>
  <p><small>Precise reason, for the operator (a real site logs it and shows only the one above):
    <code id="precise">{{.Precise}}</code>.{{if .Why}} {{.Why}}{{end}}</small></p>
  <p><a href="/contact">Try again</a></p>
{{else}}
<form id="contact" method="post" action="/contact">
  <label for="name">Name</label><input id="name" name="name" value="Ada" required>
  <label for="message">Message</label><textarea id="message" name="message">Hello!</textarea>
  {{if .WidgetJS}}
  <div class="box">{{.Captcha.Element}}</div>
  {{else}}
  <div class="box" id="demo-widget">
    <strong>Demo widget</strong> <small>(stands in for the real one; tokens come from the fake API)</small><br>
    <button type="button" data-as="human">I'm a human</button>
    <button type="button" data-as="bot">I'm a bot</button>
    <button type="button" data-as="outage">During an API outage</button>
    <p id="demo-status"><small>Pick one to get a verification token.</small></p>
    <input type="hidden" name="tc-verification-token" id="tc-verification-token">
  </div>
  {{end}}
  <button type="submit" id="send">Send</button>
  <button type="button" id="send-json">Subscribe via JSON API</button>
</form>
<pre id="json-result"></pre>
<script nonce="{{.Nonce}}">
const form = document.getElementById('contact');
const tokenOf = () => (new FormData(form)).get('tc-verification-token') || '';
document.querySelectorAll('#demo-widget button').forEach(b => b.addEventListener('click', async () => {
  const r = await fetch('/demo/token?as=' + b.dataset.as);
  const {token} = await r.json();
  document.getElementById('tc-verification-token').value = token;
  document.getElementById('demo-status').textContent = 'Token ready (' + b.dataset.as + ').';
}));
document.getElementById('send-json').addEventListener('click', async () => {
  const r = await fetch('/api/subscribe', {method: 'POST', headers: {'Content-Type': 'application/json', 'Accept': 'application/json'},
    body: JSON.stringify({email: 'ada@example.com', 'tc-verification-token': tokenOf()})});
  document.getElementById('json-result').textContent = r.status + ' ' + await r.text();
});
</script>
{{end}}
</body></html>
`))
