package trustcaptcha_test

// What the middleware tells the operator through Options.Logger.

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/captchakit/trustcaptcha"
)

// syncBuffer is a log sink safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// lines returns the log lines that contain substr.
func (s *syncBuffer) lines(substr string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for l := range strings.Lines(s.b.String()) {
		if strings.Contains(l, substr) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return out
}

// TestOperatorErrorsLoggedOncePerMinute: a revoked key is logged the first
// time, then at most once a minute per reason with the number not logged.
func TestOperatorErrorsLoggedOncePerMinute(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	clock := newFakeClock()
	cause := trustcaptcha.ErrAPIKeyInvalid
	v := trustcaptcha.VerifierFunc(func(context.Context, string) (*trustcaptcha.Result, error) {
		return nil, fmt.Errorf("%w (HTTP 403)", cause)
	})
	h := trustcaptcha.RequireCaptchaWithClock(trustcaptcha.Options{
		Verifier: v, Logger: slog.New(slog.NewTextHandler(&logs, nil)),
	}, clock.Now)(probe(&seen{}))
	for range 100 {
		send(h, tokHuman)
	}
	assert.Len(t, logs.lines("level=ERROR"), 1, "100 rejections in a minute")
	clock.Advance(59 * time.Second)
	send(h, tokHuman)
	assert.Len(t, logs.lines("level=ERROR"), 1)
	clock.Advance(time.Second)
	send(h, tokHuman)
	lines := logs.lines("level=ERROR")
	if assert.Len(t, lines, 2) {
		assert.Contains(t, lines[1], "reason=api-key-invalid")
		assert.Contains(t, lines[1], "suppressed=100")
	}
	cause = trustcaptcha.ErrUnexpectedResponse // another reason has its own minute
	send(h, tokHuman)
	assert.Len(t, logs.lines("reason=unexpected-response"), 1)
}
