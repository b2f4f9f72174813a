package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/internal/fakecmd"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

// control posts body to a control endpoint and returns the status and the
// decoded answer.
func control(t *testing.T, url, path, body string) (int, map[string]string) {
	t.Helper()
	resp, err := http.Post(url+path, "application/json", strings.NewReader(body))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]string
	if resp.StatusCode != http.StatusNoContent {
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
	}
	return resp.StatusCode, out
}

// TestCommand starts the command as a process, as another stack's test
// suite would: the project's Client verifies the tokens it mints, the API
// goes down and comes back on request, the SDKs' fixed IDs answer, each
// request is logged on one line, and SIGTERM and SIGINT stop it with status 0.
func TestCommand(t *testing.T) {
	bin := fakecmd.Build(t)
	fake := fakecmd.Start(t, bin, "-api-key", "ak_e2e-secret")
	out := fake.Stdout()
	for _, want := range []string{"ak_e2e-secret", trustcaptchatest.DefaultSiteKey, `api-url="` + fake.URL + `"`,
		"WithAPIHost(\"" + fake.URL + "\")", "/_fake/tokens", "/_fake/down", "Content-Type: application/json",
		"other web pages get 403"} {
		assert.Contains(t, out, want, "the start-up lines say how to use it")
	}
	client, err := trustcaptcha.NewClient("ak_e2e-secret", trustcaptcha.WithAPIHost(fake.URL),
		trustcaptcha.WithBreaker(0, 0)) // every outage request reaches the fake
	require.NoError(t, err)
	ctx := context.Background()
	mint := func(kind string) string {
		t.Helper()
		code, body := control(t, fake.URL, "/_fake/tokens", `{"kind":"`+kind+`"}`)
		require.Equal(t, http.StatusCreated, code, "%v", body)
		return body["token"]
	}

	t.Run("minted tokens verify with the Client", func(t *testing.T) {
		res, err := client.Verify(ctx, mint("human"))
		require.NoError(t, err)
		assert.True(t, res.VerificationPassed)
		assert.Equal(t, 0.1, res.Score)
		res, err = client.Verify(ctx, mint("bot"))
		require.NoError(t, err)
		assert.Equal(t, 0.9, res.Score)
		res, err = client.Verify(ctx, mint("failed"))
		require.NoError(t, err)
		assert.False(t, res.VerificationPassed)
		_, err = client.Verify(ctx, mint("unreachable"))
		assert.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
		_, err = client.Verify(ctx, mint("client-failover"))
		assert.ErrorIs(t, err, trustcaptcha.ErrClientReportedFailover)
	})
	t.Run("an unknown kind or status is 400 with a message", func(t *testing.T) {
		code, body := control(t, fake.URL, "/_fake/tokens", `{"kind":"robot"}`)
		assert.Equal(t, http.StatusBadRequest, code)
		assert.Contains(t, body["error"], `"robot"`)
		code, body = control(t, fake.URL, "/_fake/down", `{"status":200}`)
		assert.Equal(t, http.StatusBadRequest, code)
		assert.Contains(t, body["error"], "400 to 599")
		code, _ = control(t, fake.URL, "/_fake/tokens", `not json`)
		assert.Equal(t, http.StatusBadRequest, code)
	})
	t.Run("down and up", func(t *testing.T) {
		tok := mint("human")
		code, _ := control(t, fake.URL, "/_fake/down", `{"status":503}`)
		require.Equal(t, http.StatusNoContent, code)
		_, err := client.Verify(ctx, tok)
		assert.ErrorIs(t, err, trustcaptcha.ErrServerUnreachable)
		code, _ = control(t, fake.URL, "/_fake/up", ``)
		require.Equal(t, http.StatusNoContent, code)
		_, err = client.Verify(ctx, tok)
		assert.NoError(t, err)
	})
	t.Run("the SDKs' fixed IDs answer for any ak_ key", func(t *testing.T) {
		other, err := trustcaptcha.NewClient("ak_someone-elses", trustcaptcha.WithAPIHost(fake.URL))
		require.NoError(t, err)
		_, err = other.Verify(ctx, trustcaptchatest.Token(trustcaptchatest.PassingVerificationID))
		assert.NoError(t, err)
		_, err = other.Verify(ctx, trustcaptchatest.Token(trustcaptchatest.ExpiredVerificationID))
		assert.ErrorIs(t, err, trustcaptcha.ErrResultExpired)
		_, err = other.Verify(ctx, trustcaptchatest.Token(trustcaptchatest.RetrievalLimitVerificationID))
		assert.ErrorIs(t, err, trustcaptcha.ErrRetrievalLimitReached)
	})
	t.Run("each request is logged on one line", func(t *testing.T) {
		tok := mint("human")
		res, err := client.Verify(ctx, tok)
		require.NoError(t, err)
		want := "GET /v2/verifications/" + res.VerificationID + "/results 200 "
		fake.WaitStdout(t, want, 10*time.Second) // written once the answer is sent
		assert.NotContains(t, fake.Stdout(), "Bearer", "no header is logged")
	})

	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run("exits 0 on "+sig.String(), func(t *testing.T) {
			f := fakecmd.Start(t, bin)
			// A keep-alive connection stays open: the command does not wait for it.
			resp, err := http.Post(f.URL+"/_fake/tokens", "application/json", strings.NewReader(`{"kind":"human"}`))
			require.NoError(t, err)
			resp.Body.Close()
			took, code := f.Stop(sig)
			assert.Equal(t, 0, code, "exit status after %v", sig)
			t.Logf("exited %v after %v", took, sig)
			assert.Contains(t, f.Stdout(), "stopped")
		})
	}
}

// TestFlags: mistakes are errors before anything listens; a non-loopback
// address is warned about.
func TestFlags(t *testing.T) {
	ctx := context.Background()
	for _, args := range [][]string{
		{"-difficulty", "-1"},
		{"-difficulty", "33"},
		{"-retrieval-limit", "-2"},
		{"stray"},
		{"-no-such-flag"},
		{"-addr", "127.0.0.1:-1"},
	} {
		var stdout, stderr bytes.Buffer
		assert.Error(t, run(ctx, args, &stdout, &stderr), "%v", args)
	}
	// 192.0.2.1 (TEST-NET-1) is on no interface here: the warning comes, then
	// listening fails, and no packet leaves the machine.
	var stdout, stderr bytes.Buffer
	err := run(ctx, []string{"-addr", "192.0.2.1:0"}, &stdout, &stderr)
	assert.Error(t, err)
	assert.Contains(t, stderr.String(), "not on loopback")
	for addr, want := range map[string]string{
		"127.0.0.1:8787": "http://127.0.0.1:8787",
		"0.0.0.0:8787":   "http://127.0.0.1:8787", // the command prints a URL one can open
		"[::]:8787":      "http://127.0.0.1:8787",
		"[::1]:8787":     "http://[::1]:8787",
		"10.0.0.5:80":    "http://10.0.0.5:80",
	} {
		tcp, err := net.ResolveTCPAddr("tcp", addr)
		require.NoError(t, err)
		assert.Equal(t, want, clientURL(tcp), addr)
	}
	for _, host := range []string{"127.0.0.1", "::1", "localhost", "127.0.0.2"} {
		assert.True(t, isLoopback(host), host)
	}
	for _, host := range []string{"", "0.0.0.0", "::", "192.0.2.1", "example.com"} {
		assert.False(t, isLoopback(host), host)
	}
}
