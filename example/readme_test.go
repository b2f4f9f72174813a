package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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

// TestREADMEGoBlocksCompile builds every Go block of the repository's
// README.md as the file of a package of its own (each block is a whole file a
// user can copy into a fresh module), in this module, which requires every
// module the blocks import (the core, redisstore, chi, go-redis), with or
// without the repository's go.work. The files exist only in a go -overlay,
// never in the tree. A block with a test is built with its test. go test's
// cache sees an edit of the README: the test reads it.
func TestREADMEGoBlocksCompile(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatal("the go command is needed to build the README's blocks")
	}
	blocks := goBlocks(t)
	require.GreaterOrEqual(t, len(blocks), 4, "the README's Go blocks (a broken pattern finds none)")
	wd, err := os.Getwd()
	require.NoError(t, err)
	tmp := t.TempDir()
	overlay := map[string]string{}
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
		dir := filepath.Join(wd, "readmeblock", string(rune('a'+i)))
		src := filepath.Join(tmp, string(rune('a'+i))+".go")
		require.NoError(t, os.WriteFile(src, []byte(b), 0o644))
		overlay[filepath.Join(dir, name)] = src
	}
	ov, err := json.Marshal(map[string]any{"Replace": overlay})
	require.NoError(t, err)
	ovFile := filepath.Join(tmp, "overlay.json")
	require.NoError(t, os.WriteFile(ovFile, ov, 0o644))
	out, err := exec.Command("go", append([]string{"build", "-overlay", ovFile, "-o", os.DevNull}, pkgs...)...).
		CombinedOutput()
	require.NoError(t, err, "a README Go block does not build:\n%s", out)
	for _, p := range testPkgs {
		out, err := exec.Command("go", "test", "-c", "-vet=off", "-overlay", ovFile, "-o", os.DevNull, p).
			CombinedOutput()
		require.NoError(t, err, "a README Go block does not build:\n%s", out)
	}
}
