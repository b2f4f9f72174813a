package main

// Browser end-to-end tests: headless Chromium (Debian's package) driven by
// chromedp, every host name mapped to 127.0.0.1. They skip when Chromium (or,
// for the real widget, npm) is missing, except under CI=true, where they fail.
// Screenshots of each step go to $TMPDIR/trustcaptcha-e2e/.

import (
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha/internal/fakecmd"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
	"github.com/captchakit/trustcaptcha/widget"
)

func inCI() bool { return os.Getenv("CI") != "" && os.Getenv("CI") != "false" }

// need skips the test when a tool is missing, or fails it in CI.
func need(t *testing.T, what, hint string) {
	t.Helper()
	if inCI() {
		t.Fatalf("%s is missing under CI=true (%s)", what, hint)
	}
	t.Skipf("%s is not installed; browser test skipped (%s)", what, hint)
}

func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	need(t, "Chromium", "apt-get install chromium")
	return ""
}

// browser starts a headless Chromium that resolves every host to 127.0.0.1.
// extra adds flags (a mapping rule comes before the catch-all one).
func browser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("host-resolver-rules", "MAP * 127.0.0.1"),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1000, 900),
	}
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	require.NoError(t, chromedp.Do(ctx), "starting Chromium")
	return ctx
}

var screenshotDir = sync.OnceValue(func() string {
	dir := filepath.Join(os.TempDir(), "trustcaptcha-e2e")
	_ = os.MkdirAll(dir, 0o755)
	return dir
})

// shot saves a screenshot of the current page, for a person to look at. It
// is no assertion: a screenshot the browser cannot take at that moment (the
// page is being laid out anew) is logged, not failed.
func shot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second) // during a navigation it may never come
	defer cancel()
	buf, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("screenshot %s not taken: %v", name, err)
		return
	}
	p := filepath.Join(screenshotDir(), strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()+"-"+name)+".png")
	require.NoError(t, os.WriteFile(p, buf, 0o644))
	t.Logf("screenshot: %s", p)
}

// serve starts the example app on 127.0.0.1 and returns its page URL on
// "localhost" (a secure context, which the widget's proof-of-work needs).
func serve(t *testing.T, cfg config, wrap ...func(http.Handler) http.Handler) (string, *app) {
	t.Helper()
	if cfg.Failover == "" {
		cfg.Failover = "closed"
	}
	if cfg.Threshold == 0 {
		cfg.Threshold = 0.5
	}
	a, err := newApp(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.NoError(t, err)
	var h http.Handler = a
	for _, w := range wrap {
		h = w(h)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); a.Close() })
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	return "http://localhost:" + port + "/contact", a
}

// widgetReady waits until the real widget is hydrated: it listens to the
// form's fields only from then on, so a click before that starts nothing.
func widgetReady() chromedp.Action[chromedp.Void] {
	return chromedp.WaitVisible(chromedp.CSS(`trustcaptcha-component.hydrated`))
}

// tokenFilled waits until the form holds a verification token.
func tokenFilled() chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](
		`(() => { const f = document.querySelector('#contact [name="tc-verification-token"]'); return !!(f && f.value); })()`,
		chromedp.WithPollingTimeout(45*time.Second),
	)
}

// text returns the text of the element sel once the page has it. It reads
// it in one evaluation (no node id that can go stale between finding the
// element and reading it) and starts over when a navigation, such as the
// form's submission, replaces the document while it waits.
func text(t *testing.T, ctx context.Context, sel string) string {
	t.Helper()
	expr := fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.textContent : "" })()`, sel)
	deadline := time.Now().Add(30 * time.Second)
	for {
		s, err := chromedp.Run(ctx, chromedp.Poll[string](expr, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return s
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			require.NoError(t, err, "waiting for the text of %s", sel)
		}
	}
}

// waitFor waits until the JavaScript expression cond is true on the current
// page, starting over when a navigation replaces the document meanwhile.
func waitFor(t *testing.T, ctx context.Context, cond string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](cond, chromedp.WithPollingTimeout(time.Until(deadline))))
		if err == nil {
			return
		}
		if ctx.Err() != nil || time.Now().After(deadline) {
			body, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
			require.NoError(t, err, "waiting for %s; the page reads:\n%s", cond, body)
		}
	}
}

func TestBrowserDemoWidget(t *testing.T) {
	ctx := browser(t)
	page, _ := serve(t, config{})
	cases := []struct {
		as, want, reason string
	}{
		{"human", "Thanks, Ada!", ""},
		{"bot", "rejected", "score-too-high"},
		{"outage", "rejected", "captcha-unavailable"},
	}
	for _, tc := range cases {
		t.Run(tc.as, func(t *testing.T) {
			require.NoError(
				t,
				chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#demo-widget`))),
			)
			shot(t, ctx, "1-form")
			require.NoError(
				t,
				chromedp.Do(
					ctx,
					chromedp.Click(chromedp.CSS(`#demo-widget button[data-as="`+tc.as+`"]`)),
					tokenFilled(),
				),
			)
			shot(t, ctx, "2-token")
			require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#send`))))
			assert.Contains(t, text(t, ctx, `#result`), tc.want)
			if tc.reason != "" {
				assert.Equal(t, tc.reason, text(t, ctx, `#reason`))
			}
			shot(t, ctx, "3-result")
		})
	}
	t.Run("JSON endpoint from page script", func(t *testing.T) {
		for _, tc := range []struct{ as, want string }{{"human", `200 {"admittedByFailover":false,"score":0.1`}, {"bot", `400 {"type"`}} {
			require.NoError(
				t,
				chromedp.Do(
					ctx,
					chromedp.Navigate(page),
					chromedp.WaitVisible(chromedp.CSS(`#demo-widget`)),
					chromedp.Click(chromedp.CSS(`#demo-widget button[data-as="`+tc.as+`"]`)),
					tokenFilled(),
					chromedp.Click(chromedp.CSS(`#send-json`)),
					chromedp.Poll[chromedp.Void](
						`document.getElementById('json-result').textContent.length > 0`,
						chromedp.WithPollingTimeout(20*time.Second),
					),
				),
			)
			out := text(t, ctx, `#json-result`)
			assert.True(t, strings.HasPrefix(out, tc.want), "got %q", out)
			shot(t, ctx, "json-"+tc.as)
		}
	})
}

// widgetDir installs the real widget from the npm registry into e2e/ (with
// its lockfile) unless it is there, and returns its folder.
func widgetDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(
		"..",
		"e2e",
		"node_modules",
		"@trustcomponent",
		"trustcaptcha-frontend",
		"dist",
		"frontendlibrary",
	)
	if _, err := os.Stat(filepath.Join(dir, "frontendlibrary.esm.js")); err == nil {
		return dir
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		need(t, "npm", "the real widget comes from the npm registry")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = filepath.Join("..", "e2e")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "npm ci: %s", out)
	return dir
}

func TestBrowserRealWidget(t *testing.T) {
	ctx := browser(t)
	page, a := serve(t, config{WidgetDir: widgetDir(t)})
	require.NoError(
		t,
		chromedp.Do(ctx, chromedp.Navigate(page), widgetReady()),
	)
	shot(t, ctx, "1-form")
	// Focusing a field starts the widget: it asks the fake for a challenge,
	// solves the proof-of-work, and puts the token into the form.
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#name`)), tokenFilled()))
	shot(t, ctx, "2-solved")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#send`))))
	assert.Contains(t, text(t, ctx, `#result`), "Thanks, Ada! Your message was accepted (bot score 0.10)")
	shot(t, ctx, "3-accepted")

	var created, solved bool
	for _, r := range a.fake.Requests() {
		created = created || (r.Method == http.MethodPost && r.Path == "/v2/verifications")
		solved = solved || (r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/challenges"))
	}
	assert.True(t, created && solved, "the widget did not go through the fake's endpoints")
}

// The real widget against the fake API run as a command, as another stack's
// end-to-end suite runs it: the example server in live mode with the
// command's keys and URL as its API host, which is also the widget's api-url.
func TestBrowserRealWidgetAgainstTheCommand(t *testing.T) {
	dir := widgetDir(t)
	ctx := browser(t)
	fake := fakecmd.Start(t, fakecmd.Build(t))
	page, _ := serve(t, config{APIKey: trustcaptchatest.DefaultAPIKey, SiteKey: trustcaptchatest.DefaultSiteKey,
		APIHost: fake.URL, WidgetDir: dir})
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page), widgetReady()))
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#name`)), tokenFilled()))
	shot(t, ctx, "1-solved")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#send`))))
	assert.Contains(t, text(t, ctx, `#result`), "Thanks, Ada! Your message was accepted (bot score 0.10)")
	shot(t, ctx, "2-accepted")
	for _, line := range []string{"POST /v2/verifications 200", "/challenges 201", "/results 200"} {
		fake.WaitStdout(t, line, 10*time.Second) // the command logged the widget's calls and the server's
	}
}

// The README's complete program, built from the README, run as a user runs
// it (the keys and API host in its environment), against the fake API as a
// command; the widget's script comes from its CDN address, which the browser
// resolves to a local server holding the npm package. The real widget solves
// and the form passes.
func TestBrowserREADMEProgram(t *testing.T) {
	dir := widgetDir(t)
	fake := fakecmd.Start(t, fakecmd.Build(t))
	bin := buildPageProgram(t)

	// The CDN: https://cdn.jsdelivr.net/npm/@trustcomponent/trustcaptcha-frontend@3.0.2/… from e2e/node_modules.
	pkg := filepath.Join(dir, "..", "..")
	prefix := "/npm/@trustcomponent/trustcaptcha-frontend@3.0.2/"
	require.True(t, strings.Contains(widget.DefaultScriptURL, "cdn.jsdelivr.net"+prefix), widget.DefaultScriptURL)
	cdn := httptest.NewTLSServer(http.StripPrefix(prefix, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*") // module scripts load in CORS mode
		http.FileServer(http.Dir(pkg)).ServeHTTP(w, r)
	})))
	t.Cleanup(cdn.Close)
	_, cdnPort, _ := net.SplitHostPort(cdn.Listener.Addr().String())
	ctx := browser(t,
		chromedp.Flag("host-resolver-rules", "MAP cdn.jsdelivr.net:443 127.0.0.1:"+cdnPort+", MAP * 127.0.0.1"),
		chromedp.Flag("ignore-certificate-errors", true)) // the local CDN's certificate

	port := startPageProgram(t, bin, fake.URL)
	page := "http://localhost:" + port + "/contact" // localhost: a secure context, which the proof-of-work needs

	violations := cspViolations(t, ctx)
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page), widgetReady()))
	require.NoError(t, chromedp.Do(ctx, chromedp.SendKeys(`input[name="name"]`, "Ada"),
		chromedp.Poll[chromedp.Void](`!!(document.querySelector('form [name="tc-verification-token"]') || {}).value`,
			chromedp.WithPollingTimeout(45*time.Second))))
	shot(t, ctx, "1-solved")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`form button`))))
	waitFor(t, ctx, `document.body.innerText.includes("Thanks, Ada! (bot score 0.10)")`)
	shot(t, ctx, "2-accepted")
	assert.Empty(t, drain(violations), "the page's policy let the widget work")
	fake.WaitStdout(t, "/challenges 201", 10*time.Second) // the widget solved against the command
}

func TestBrowserRealWidgetFailoverToken(t *testing.T) {
	dir := widgetDir(t)
	// The browser cannot reach the API (a closed port); our server can.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	unreachable := "http://" + ln.Addr().String()
	require.NoError(t, ln.Close())

	for _, tc := range []struct {
		policy, want, reason string
	}{
		{"closed", "rejected", "client-failover-unconfirmed"},
		{"open", "rejected", "client-failover-unconfirmed"},
		{"trust-client", "Thanks, Ada!", ""},
	} {
		t.Run(tc.policy, func(t *testing.T) {
			ctx := browser(t)
			page, _ := serve(
				t,
				config{WidgetDir: dir, WidgetAPIURL: unreachable, WidgetFailover: true, Failover: tc.policy},
			)
			require.NoError(
				t,
				chromedp.Do(ctx, chromedp.Navigate(page), widgetReady(),
					chromedp.Click(chromedp.CSS(`#name`)), tokenFilled()),
			)
			tok, err := chromedp.Run(
				ctx,
				chromedp.Evaluate[string](`document.querySelector('#contact [name="tc-verification-token"]').value`),
			)
			require.NoError(t, err)
			assert.Contains(t, decodeB64(t, tok), `"clientFailover":true`, "the widget made its own failover token")
			shot(t, ctx, "1-failover-token")
			require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#send`))))
			assert.Contains(t, text(t, ctx, `#result`), tc.want)
			if tc.reason != "" {
				assert.Equal(t, tc.reason, text(t, ctx, `#reason`))
			} else {
				assert.Contains(t, text(t, ctx, `#failover`), "accepted on failover")
			}
			shot(t, ctx, "2-result")
		})
	}
}

func decodeB64(t *testing.T, s string) string {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	require.NoError(t, err)
	return string(b)
}

// dropDirective removes one directive from every Content-Security-Policy the
// app sends.
func dropDirective(name string) func(http.Handler) http.Handler {
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(cspEditor{w, name}, r)
		})
	}
}

type cspEditor struct {
	http.ResponseWriter
	drop string
}

func (c cspEditor) WriteHeader(code int) {
	if p := c.Header().Get("Content-Security-Policy"); p != "" {
		var kept []string
		for _, d := range strings.Split(p, "; ") {
			if !strings.HasPrefix(d, c.drop+" ") {
				kept = append(kept, d)
			}
		}
		c.Header().Set("Content-Security-Policy", strings.Join(kept, "; "))
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c cspEditor) Write(b []byte) (int, error) { return c.ResponseWriter.Write(b) }

// cspViolations reports every CSP violation of the pages ctx loads from now
// on, as "directive blocked-URI source:line sample disposition": the listener is added to each new document
// before the page's own scripts run (a violation during the page's load is
// reported too) and calls back into the test, which waits on the channel.
func cspViolations(t *testing.T, ctx context.Context) <-chan string {
	t.Helper()
	ch := make(chan string, 64)
	report := func(_ context.Context, v string) (chromedp.Void, error) {
		select {
		case ch <- v:
		default: // the test has seen enough
		}
		return chromedp.Void{}, nil
	}
	const listen = `document.addEventListener('securitypolicyviolation',
  e => window.reportCSPViolation(e.effectiveDirective + ' ' + e.blockedURI + ' ' + e.sourceFile + ':' + e.lineNumber + ' ' + e.sample + ' ' + e.disposition));`
	_, err := chromedp.Run(ctx, chromedp.ExposeFunc("reportCSPViolation", report))
	require.NoError(t, err)
	_, err = chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument,
		cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: listen})
	require.NoError(t, err)
	return ch
}

// drain returns what ch holds now.
func drain(ch <-chan string) []string {
	var got []string
	for {
		select {
		case v := <-ch:
			got = append(got, v)
		default:
			return got
		}
	}
}

// The real widget under exactly the policy package widget prescribes: it
// solves against the fake API and the form passes, with no violation; the
// same page without worker-src blob: breaks it, and the browser reports why.
func TestBrowserRealWidgetUnderStrictCSP(t *testing.T) {
	dir := widgetDir(t)
	t.Run("the prescribed policy", func(t *testing.T) {
		ctx := browser(t)
		page, a := serve(t, config{WidgetDir: dir})
		resp, err := http.Get(page)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		nonce := regexp.MustCompile(`<meta name="csp-nonce" content="([^"]+)">`).FindSubmatch(body)
		require.NotNil(t, nonce, "the page carries the widget's nonce")
		want := a.widget.Page()
		assert.Equal(t, strings.ReplaceAll(want.Policy.String(), want.Nonce, string(nonce[1])),
			resp.Header.Get("Content-Security-Policy"), "the page is served with exactly the widget's policy")
		assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "worker-src blob:")

		violations := cspViolations(t, ctx)
		require.NoError(
			t,
			chromedp.Do(ctx, chromedp.Navigate(page), widgetReady()),
		)
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#name`)), tokenFilled()))
		shot(t, ctx, "1-solved")
		require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#send`))))
		assert.Contains(t, text(t, ctx, `#result`), "Thanks, Ada! Your message was accepted")
		shot(t, ctx, "2-accepted")
		// Both pages (the form and the answer) loaded and ran under the
		// listener: anything blocked on the way was reported by now.
		assert.Empty(t, drain(violations))
	})
	for _, tc := range []struct{ drop, violation string }{
		{"worker-src", "worker-src blob"},   // the proof-of-work worker
		{"connect-src", "connect-src http"}, // the API (default-src 'self' is another origin)
	} {
		t.Run("without "+tc.drop, func(t *testing.T) {
			ctx := browser(t)
			page, _ := serve(t, config{WidgetDir: dir}, dropDirective(tc.drop))
			violations := cspViolations(t, ctx)
			require.NoError(
				t,
				chromedp.Do(ctx, chromedp.Navigate(page), widgetReady(),
					chromedp.Click(chromedp.CSS(`#name`))),
			)
			var first string
			select {
			case first = <-violations:
			case <-time.After(30 * time.Second):
				t.Fatalf("no CSP violation reported within 30 s without %s", tc.drop)
			}
			assert.True(t, strings.HasPrefix(first, tc.violation), "the browser blocked %q: %q", tc.violation, first)
			filled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](
				`!!(document.querySelector('#contact [name="tc-verification-token"]') || {}).value`))
			require.NoError(t, err)
			assert.False(t, filled, "no token without "+tc.drop)
			shot(t, ctx, "broken")
		})
	}
}

// The login with step-up, in Chromium with the real widget: no widget at
// first; after three wrong passwords the page shows it; the widget solves
// and the right password logs in.
func TestBrowserStepUpLogin(t *testing.T) {
	dir := widgetDir(t)
	ctx := browser(t)
	contact, _ := serve(t, config{WidgetDir: dir})
	page := strings.TrimSuffix(contact, "/contact") + "/login"
	hasWidget := `!!document.querySelector('trustcaptcha-component')`
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page), chromedp.WaitVisible(chromedp.CSS(`#log-in`))))
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](hasWidget))
	require.NoError(t, err)
	assert.False(t, shown, "no widget at first")
	shot(t, ctx, "1-no-widget")
	// submit clicks Log in and waits until the answer's page has replaced this
	// one: the old page is marked, so a look at it cannot pass for the new.
	submit := func() {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](`window.stale = true`),
			chromedp.Click(chromedp.CSS(`#log-in`))))
		waitFor(t, ctx, `!window.stale && document.readyState === "complete"`)
	}
	for i := range loginAfter {
		require.NoError(t, chromedp.Do(ctx,
			chromedp.SetValue(chromedp.CSS(`#user`), demoUser),
			chromedp.SetValue(chromedp.CSS(`#password`), "wrong")))
		submit()
		assert.Contains(t, text(t, ctx, `#message`), "Wrong user name or password.", "try %d", i+1)
	}
	require.NoError(t, chromedp.Do(ctx, widgetReady()), "the widget appears")
	shot(t, ctx, "2-widget")
	require.NoError(t, chromedp.Do(ctx,
		chromedp.SetValue(chromedp.CSS(`#password`), demoPassword),
		chromedp.Click(chromedp.CSS(`#password`)), // focusing a field starts the widget
		chromedp.Poll[chromedp.Void](
			`(() => { const f = document.querySelector('#login [name="tc-verification-token"]'); return !!(f && f.value); })()`,
			chromedp.WithPollingTimeout(45*time.Second)),
	))
	shot(t, ctx, "3-solved")
	submit()
	assert.Equal(t, "Welcome, ada!", text(t, ctx, `#welcome`))
	shot(t, ctx, "4-welcome")
}
