package trustcaptcha_test

import (
	"os"
	"regexp"
	"testing"

	"github.com/captchakit/trustcaptcha"
	"github.com/stretchr/testify/require"
)

// TestChangelogMatchesVersion: the newest CHANGELOG.md entry is the Version
// the client sends.
func TestChangelogMatchesVersion(t *testing.T) {
	log, err := os.ReadFile("CHANGELOG.md")
	require.NoError(t, err)
	m := regexp.MustCompile(`(?m)^## \[(\d+\.\d+\.\d+)\]`).FindSubmatch(log)
	require.NotNil(t, m, "no version entry in CHANGELOG.md")
	require.Equal(t, trustcaptcha.Version, string(m[1]))
}
