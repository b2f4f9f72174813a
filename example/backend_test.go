package main

// A backend in another language on the fake API: e2e/backend.py (Python,
// standard library only) against the command trustcaptcha-fake, as another
// stack's end-to-end suite runs them, and the README's curl lines.

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha/internal/fakecmd"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

// program returns the path of the program name, or skips the test without
// it (fails under CI=true).
func program(t *testing.T, name, hint string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if inCI() {
			t.Fatalf("%s is missing under CI=true (%s)", name, hint)
		}
		t.Skipf("%s is not installed; test skipped (%s)", name, hint)
	}
	return p
}

// startPython runs e2e/backend.py against the fake at apiHost, with the
// widget's files from widgetDir (may be empty), and returns its URL.
func startPython(t *testing.T, apiHost, widgetDir string) string {
	t.Helper()
	cmd := exec.Command(program(t, "python3", "apt-get install python3"), filepath.Join("..", "e2e", "backend.py"))
	cmd.Env = append(os.Environ(), "PORT=0", "TRUSTCAPTCHA_API_HOST="+apiHost,
		"TRUSTCAPTCHA_API_KEY="+trustcaptchatest.DefaultAPIKey, "TRUSTCAPTCHA_SITE_KEY="+trustcaptchatest.DefaultSiteKey,
		"WIDGET_DIR="+widgetDir)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	serving, read := make(chan string, 1), make(chan struct{})
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-read; _ = cmd.Wait() })
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if m := regexp.MustCompile(`^serving (http://127\.0\.0\.1:\d+)/$`).FindStringSubmatch(sc.Text()); m != nil {
				serving <- m[1]
			}
		}
	}()
	select {
	case u := <-serving:
		return u
	case <-time.After(30 * time.Second):
		t.Fatal("e2e/backend.py did not start serving within 30 s")
	}
	return ""
}

// mint asks the fake's control endpoint for a token of kind.
func mint(t *testing.T, fakeURL, kind string) string {
	t.Helper()
	resp, err := http.Post(fakeURL+"/_fake/tokens", "application/json", strings.NewReader(`{"kind":"`+kind+`"}`))
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusCreated, resp.StatusCode)
	var out struct{ Token string }
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	return out.Token
}

// TestPythonBackend: the Python backend verifies minted tokens against the
// command, as the README's section on other stacks says: each kind gets its
// answer, a client-failover token is fetched with ?clientFailover=true (and
// the fake answers 412), and the command logs every fetch.
func TestPythonBackend(t *testing.T) {
	fake := fakecmd.Start(t, fakecmd.Build(t))
	backend := startPython(t, fake.URL, "")
	for _, tc := range []struct{ kind, want string }{
		{"human", "Thanks, Ada!"},
		{"bot", "Rejected: score-too-high"},
		{"failed", "Rejected: verification-failed"},
		{"unreachable", "Rejected: server-unreachable"},
		{"client-failover", "Rejected: client-failover-unconfirmed"},
	} {
		resp, err := http.PostForm(backend+"/contact", url.Values{"name": {"Ada"},
			"tc-verification-token": {mint(t, fake.URL, tc.kind)}})
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Contains(t, string(b), tc.want, tc.kind)
	}
	resp, err := http.PostForm(backend+"/contact", url.Values{"name": {"Ada"}})
	require.NoError(t, err)
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "Rejected: token-missing", string(b))
	fake.WaitStdout(t, "/results?clientFailover=true 412 ", 10*time.Second)
	fake.WaitStdout(t, "/results 200 ", 10*time.Second)
}

// TestBrowserPythonBackend: the real widget on the Python backend's page
// solves against the command, and the form passes.
func TestBrowserPythonBackend(t *testing.T) {
	dir, err := filepath.Abs(widgetDir(t))
	require.NoError(t, err)
	ctx := browser(t)
	fake := fakecmd.Start(t, fakecmd.Build(t))
	backend := startPython(t, fake.URL, dir)
	page := strings.Replace(backend, "127.0.0.1", "localhost", 1) + "/" // a secure context
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(page), widgetReady()))
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#name`)), tokenFilled()))
	shot(t, ctx, "1-solved")
	require.NoError(t, chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`#send`))))
	assert.Equal(t, "Thanks, Ada!", text(t, ctx, `#result`))
	shot(t, ctx, "2-accepted")
	fake.WaitStdout(t, "/challenges 201", 10*time.Second)
}

// TestOtherStacksCurlLines runs the curl block of docs/other-stacks.md against
// the command (its address put in for 127.0.0.1:8787), line by line: a
// minted token verifies, and the API goes down and up.
func TestOtherStacksCurlLines(t *testing.T) {
	bash := program(t, "bash", "apt-get install bash")
	program(t, "curl", "apt-get install curl")
	readme, err := os.ReadFile(filepath.Join("..", "docs", "other-stacks.md"))
	require.NoError(t, err)
	m := regexp.MustCompile("(?s)```sh\n(# verify a minted token.*?)```").FindSubmatch(readme)
	require.NotNil(t, m, "docs/other-stacks.md has the curl block that verifies a minted token")
	fake := fakecmd.Start(t, fakecmd.Build(t))
	script := "set -euo pipefail\n" + strings.ReplaceAll(string(m[1]), "http://127.0.0.1:8787", fake.URL)
	out, err := exec.Command(bash, "-c", script).CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), `"verificationPassed":true`, "the minted token's result")
	assert.Contains(t, string(out), "HTTP 503", "the API went down")
	fake.WaitStdout(t, "POST /_fake/up 204", 10*time.Second)
}
