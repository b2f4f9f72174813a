package trustcaptcha_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package's tests if any goroutine outlives them: a hung
// verification, a body reader or a connection left behind.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
