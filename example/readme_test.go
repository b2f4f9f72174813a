package main

import (
	"bufio"
	"encoding/json"
	"fmt"
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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	// The README's Gin block is built in this module: these keep its
	// modules required here (the README's other blocks import what main.go
	// and the Echo tests already do).
	_ "github.com/captchakit/trustcaptcha/gincaptcha"
	_ "github.com/gin-gonic/gin"

	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

// goBlocks returns the ```go blocks of the README, in order, then those of
// the pages in docs/ it links to.
func goBlocks(t *testing.T) []string {
	t.Helper()
	pages, err := filepath.Glob(filepath.Join("..", "docs", "*.md"))
	require.NoError(t, err)
	var blocks []string
	for _, name := range append([]string{filepath.Join("..", "README.md")}, pages...) {
		text, err := os.ReadFile(name)
		require.NoError(t, err)
		for _, m := range regexp.MustCompile("(?s)\n```go\n(.*?)\n```").FindAllStringSubmatch(string(text), -1) {
			blocks = append(blocks, m[1]+"\n")
		}
	}
	return blocks
}

// overlay writes files (package folder below this module → Go source) into a
// go -overlay file and returns its path: the files exist only there, never
// in the tree.
func overlay(t *testing.T, files map[string]string) string {
	t.Helper()
	wd, err := os.Getwd()
	require.NoError(t, err)
	tmp := t.TempDir()
	replace := map[string]string{}
	i := 0
	for name, src := range files {
		path := filepath.Join(tmp, fmt.Sprintf("%d.go", i))
		i++
		require.NoError(t, os.WriteFile(path, []byte(src), 0o644))
		replace[filepath.Join(wd, name)] = path
	}
	ov, err := json.Marshal(map[string]any{"Replace": replace})
	require.NoError(t, err)
	file := filepath.Join(tmp, "overlay.json")
	require.NoError(t, os.WriteFile(file, ov, 0o644))
	return file
}

// TestREADMEGoBlocksCompile builds every Go block of the repository's
// README.md and of the pages of docs/ as the file of a package of its own (each block is a whole file a
// user can copy into a fresh module), in this module, which requires every
// module the blocks import (the core, redisstore, gincaptcha, Echo, chi,
// go-redis, the OpenTelemetry SDK), with or without the repository's
// go.work. A block with a test is built with its test. go test's cache sees
// an edit of the README: the test reads it.
func TestREADMEGoBlocksCompile(t *testing.T) {
	blocks := goBlocks(t)
	require.GreaterOrEqual(t, len(blocks), 7, "the README's and docs' Go blocks (a broken pattern finds none)")
	files := map[string]string{}
	var pkgs, testPkgs []string
	for i, b := range blocks {
		require.True(t, strings.HasPrefix(b, "package "), "block %d is not a whole file:\n%s", i+1, b)
		name, pkg := "main.go", "./readmeblock/"+string(rune('a'+i))
		if strings.Contains(b, "\nfunc Test") {
			name = "readme_test.go"
			testPkgs = append(testPkgs, pkg)
		} else {
			pkgs = append(pkgs, pkg)
		}
		files[filepath.Join(pkg, name)] = b
	}
	ov := overlay(t, files)
	out, err := exec.Command("go", append([]string{"build", "-overlay", ov, "-o", os.DevNull}, pkgs...)...).
		CombinedOutput()
	require.NoError(t, err, "a README Go block does not build:\n%s", out)
	for _, p := range testPkgs {
		out, err := exec.Command("go", "test", "-c", "-vet=off", "-overlay", ov, "-o", os.DevNull, p).
			CombinedOutput()
		require.NoError(t, err, "a README Go block does not build:\n%s", out)
	}
}

// pageProgram returns the README's complete program: the block that renders
// the widget's page and protects its POST.
func pageProgram(t *testing.T) string {
	t.Helper()
	for _, b := range goBlocks(t) {
		if strings.Contains(b, "w.Page()") && strings.Contains(b, "func main()") {
			return b
		}
	}
	t.Fatal("the README has no complete page program (a block with w.Page() and func main)")
	return ""
}

// buildPageProgram builds the README's complete program into a binary.
func buildPageProgram(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "readme-page")
	ov := overlay(t, map[string]string{filepath.Join("readmeblock", "page", "main.go"): pageProgram(t)})
	out, err := exec.Command("go", "build", "-overlay", ov, "-o", bin, "./readmeblock/page").CombinedOutput()
	require.NoError(t, err, "the README's page program does not build:\n%s", out)
	return bin
}

// TestCIRunsTheREADMETestCommand: the test command the README gives a new
// user is the one .ci/run runs, on both Go releases.
func TestCIRunsTheREADMETestCommand(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^(go test [^#\n]*?)\s*#`).FindSubmatch(readme)
	require.NotNil(t, m, "the README names a go test command")
	ci, err := os.ReadFile(filepath.Join("..", ".ci", "run"))
	require.NoError(t, err)
	assert.Contains(t, string(ci), "TEST_COMMAND=("+string(m[1])+")", ".ci/run runs the README's test command")
	assert.Contains(t, string(ci), `GOTOOLCHAIN=go1.27.3 "${TEST_COMMAND[@]}"`, "and with the newest Go")
}

// startPageProgram runs the README's complete program at bin as a user runs
// it, with the keys and apiHost in its environment, and returns the port it
// serves on. It is killed when the test ends.
func startPageProgram(t *testing.T, bin, apiHost string) (port string) {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(os.Environ(), "ADDR=127.0.0.1:0", "TRUSTCAPTCHA_API_HOST="+apiHost,
		"TRUSTCAPTCHA_API_KEY="+trustcaptchatest.DefaultAPIKey, "TRUSTCAPTCHA_SITE_KEY="+trustcaptchatest.DefaultSiteKey)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	serving, read := make(chan string, 1), make(chan struct{})
	t.Cleanup(func() { _ = cmd.Process.Kill(); <-read; _ = cmd.Wait() })
	go func() { // the program logs "serving http://127.0.0.1:PORT/contact" once it listens
		defer close(read)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := regexp.MustCompile(`serving http://127\.0\.0\.1:(\d+)/contact`).FindStringSubmatch(sc.Text()); m != nil {
				serving <- m[1]
			}
			t.Log("README program: " + sc.Text())
		}
	}()
	select {
	case port = <-serving:
	case <-time.After(30 * time.Second):
		t.Fatal("the README's program did not start serving within 30 s")
	}
	return port
}

// TestREADMEProgramBoundsFailover: the README's complete program admits
// requests unverified while the API is down, but only within its budget, so
// whoever makes the outage (an API that is down, or a full in-flight bound)
// cannot flood the form.
func TestREADMEProgramBoundsFailover(t *testing.T) {
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	api.Down(http.StatusServiceUnavailable)
	port := startPageProgram(t, buildPageProgram(t), api.URL)
	admitted := 0
	for range 40 {
		resp, err := http.PostForm("http://127.0.0.1:"+port+"/contact",
			url.Values{"name": {"Ada"}, "tc-verification-token": {api.Human()}})
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			assert.Contains(t, string(body), "will be reviewed", "marked as admitted on failover")
			admitted++
		} else {
			assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
			assert.Contains(t, string(body), "captcha-unavailable")
		}
	}
	assert.Positive(t, admitted, "the outage admits some")
	assert.LessOrEqual(t, admitted, 20, "but no more than the budget of a minute")
}
