package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	// The README's Gin block is built in this module: these keep its
	// modules required here (the README's other blocks import what main.go
	// and the Echo tests already do).
	_ "github.com/captchakit/trustcaptcha/gincaptcha"
	_ "github.com/gin-gonic/gin"
)

// goBlocks returns the ```go blocks of the README, in order.
func goBlocks(t *testing.T) []string {
	t.Helper()
	readme, err := os.ReadFile(filepath.Join("..", "README.md"))
	require.NoError(t, err)
	var blocks []string
	for _, m := range regexp.MustCompile("(?s)\n```go\n(.*?)\n```").FindAllStringSubmatch(string(readme), -1) {
		blocks = append(blocks, m[1]+"\n")
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
// README.md as the file of a package of its own (each block is a whole file a
// user can copy into a fresh module), in this module, which requires every
// module the blocks import (the core, redisstore, gincaptcha, Echo, chi,
// go-redis, the OpenTelemetry SDK), with or without the repository's
// go.work. A block with a test is built with its test. go test's cache sees
// an edit of the README: the test reads it.
func TestREADMEGoBlocksCompile(t *testing.T) {
	blocks := goBlocks(t)
	require.GreaterOrEqual(t, len(blocks), 6, "the README's Go blocks (a broken pattern finds none)")
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
