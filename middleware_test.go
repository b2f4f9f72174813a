package trustcaptcha_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

func TestTokenExtraction(t *testing.T) {
	t.Parallel()
	mp, mpType := multipartBody(t, map[string]string{"name": "Ada", "tc-verification-token": tokHuman}, "file content")
	mpNone, mpNoneType := multipartBody(t, map[string]string{"name": "Ada"}, "")
	jsonBody := `{"name":"Ada","tc-verification-token":"` + tokHuman + `","nested":{"tc-verification-token":"x"}}`
	cases := []struct {
		reqCase
		wantStatus int
		wantReason string
		wantCalls  int64
		check      func(t *testing.T, s seen)
	}{
		{
			reqCase:    reqCase{name: "header", header: map[string]string{"X-TC-Verification-Token": tokHuman}},
			wantStatus: 204,
			wantCalls:  1,
		},
		{
			reqCase: reqCase{
				name:        "header wins over the body",
				header:      map[string]string{"X-TC-Verification-Token": tokHuman},
				contentType: "application/json",
				body:        `{"tc-verification-token":"` + tokBot + `"}`,
			},
			wantStatus: 204,
			wantCalls:  1,
			check:      func(t *testing.T, s seen) { assert.Equal(t, `{"tc-verification-token":"`+tokBot+`"}`, s.body) },
		},
		{
			reqCase: reqCase{
				name:        "urlencoded form",
				contentType: "application/x-www-form-urlencoded",
				target:      "/contact?q=search",
				body:        form("name", "Ada", "tc-verification-token", tokHuman),
			},
			wantStatus: 204,
			wantCalls:  1,
			check: func(t *testing.T, s seen) {
				assert.Equal(t, "Ada", s.name, "r.FormValue works after us")
				assert.Equal(t, "search", s.query, "r.Form holds the query as usual")
				assert.Equal(
					t,
					form("name", "Ada", "tc-verification-token", tokHuman),
					s.body,
					"the raw body is still readable",
				)
			},
		},
		{
			reqCase: reqCase{
				name:        "urlencoded with charset",
				contentType: "application/x-www-form-urlencoded; charset=UTF-8",
				body:        form("tc-verification-token", tokHuman),
			},
			wantStatus: 204,
			wantCalls:  1,
		},
		{
			reqCase: reqCase{
				name:        "urlencoded PUT",
				method:      http.MethodPut,
				contentType: "application/x-www-form-urlencoded",
				body:        form("name", "Ada", "tc-verification-token", tokHuman),
			},
			wantStatus: 204,
			wantCalls:  1,
			check:      func(t *testing.T, s seen) { assert.Equal(t, "Ada", s.name) },
		},
		{reqCase: reqCase{name: "urlencoded same token twice", contentType: "application/x-www-form-urlencoded",
			body: form(
				"tc-verification-token",
				tokHuman,
				"tc-verification-token",
				tokHuman,
			)}, wantStatus: 204, wantCalls: 1},
		{reqCase: reqCase{name: "urlencoded two different tokens", contentType: "application/x-www-form-urlencoded",
			body: form(
				"tc-verification-token",
				tokHuman,
				"tc-verification-token",
				tokBot,
			)}, wantStatus: 400, wantReason: "token-invalid"},
		{reqCase: reqCase{name: "urlencoded without token", contentType: "application/x-www-form-urlencoded",
			body: form("name", "Ada")}, wantStatus: 400, wantReason: "token-missing"},
		{reqCase: reqCase{name: "urlencoded malformed", contentType: "application/x-www-form-urlencoded",
			body: "tc-verification-token=%zz&x"}, wantStatus: 400, wantReason: "token-missing"},
		{reqCase: reqCase{name: "multipart with a file", contentType: mpType, body: mp}, wantStatus: 204, wantCalls: 1,
			check: func(t *testing.T, s seen) {
				assert.Equal(t, "Ada", s.name)
				assert.Equal(t, "file content", s.file, "the uploaded file stays readable")
			}},
		{
			reqCase:    reqCase{name: "multipart without token", contentType: mpNoneType, body: mpNone},
			wantStatus: 400,
			wantReason: "token-missing",
		},
		{
			reqCase:    reqCase{name: "multipart without boundary", contentType: "multipart/form-data", body: mp},
			wantStatus: 400,
			wantReason: "token-missing",
		},
		{reqCase: reqCase{name: "JSON", contentType: "application/json", body: jsonBody}, wantStatus: 204, wantCalls: 1,
			check: func(t *testing.T, s seen) {
				assert.Equal(t, jsonBody, s.body, "the JSON bytes reach the handler unchanged")
			}},
		{
			reqCase: reqCase{
				name:        "JSON with charset",
				contentType: "application/json; charset=utf-8",
				body:        jsonBody,
			},
			wantStatus: 204,
			wantCalls:  1,
		},
		{
			reqCase:    reqCase{name: "+json type", contentType: "application/vnd.api+json", body: jsonBody},
			wantStatus: 204,
			wantCalls:  1,
		},
		{reqCase: reqCase{name: "JSON escaped key", contentType: "application/json",
			body: `{"tc\u002dverification-token":"` + tokHuman + `"}`}, wantStatus: 204, wantCalls: 1},
		{reqCase: reqCase{name: "JSON same token twice", contentType: "application/json",
			body: `{"tc-verification-token":"` + tokHuman + `","tc-verification-token":"` + tokHuman + `"}`},
			wantStatus: 204, wantCalls: 1},
		{reqCase: reqCase{name: "JSON two different tokens", contentType: "application/json",
			body: `{"tc-verification-token":"` + tokHuman + `","tc-verification-token":"` + tokBot + `"}`},
			wantStatus: 400, wantReason: "token-invalid"},
		{reqCase: reqCase{name: "JSON key in upper case", contentType: "application/json",
			body: `{"TC-VERIFICATION-TOKEN":"` + tokHuman + `"}`}, wantStatus: 204, wantCalls: 1},
		{reqCase: reqCase{name: "JSON key with the Kelvin sign", contentType: "application/json",
			body: `{"tc-verification-to\u212Aen":"` + tokHuman + `"}`}, wantStatus: 204, wantCalls: 1},
		{reqCase: reqCase{name: "JSON two spellings, two tokens", contentType: "application/json",
			body: `{"tc-verification-token":"` + tokHuman + `","Tc-Verification-Token":"` + tokBot + `"}`},
			wantStatus: 400, wantReason: "token-invalid"},
		{reqCase: reqCase{name: "JSON token nested only", contentType: "application/json",
			body: `{"data":{"tc-verification-token":"` + tokHuman + `"}}`},
			wantStatus: 400, wantReason: "token-missing"},
		{reqCase: reqCase{name: "JSON token not a string", contentType: "application/json",
			body: `{"tc-verification-token":123}`}, wantStatus: 400, wantReason: "token-missing"},
		{reqCase: reqCase{name: "JSON token an object", contentType: "application/json",
			body: `{"tc-verification-token":{"t":"` + tokHuman + `"}}`},
			wantStatus: 400, wantReason: "token-missing"},
		{
			reqCase:    reqCase{name: "JSON array", contentType: "application/json", body: `["` + tokHuman + `"]`},
			wantStatus: 400,
			wantReason: "token-missing",
		},
		{
			reqCase: reqCase{
				name:        "JSON malformed",
				contentType: "application/json",
				body:        `{"tc-verification-token":"` + tokHuman + `"`,
			},
			wantStatus: 400,
			wantReason: "token-missing",
		},
		{
			reqCase: reqCase{
				name:        "JSON trailing data",
				contentType: "application/json",
				body:        `{"tc-verification-token":"` + tokHuman + `"} {}`,
			},
			wantStatus: 400,
			wantReason: "token-missing",
		},
		{
			reqCase: reqCase{
				name:   "query string only",
				target: "/contact?tc-verification-token=" + url.QueryEscape(tokHuman),
			},
			wantStatus: 400,
			wantReason: "token-missing",
		},
		{
			reqCase:    reqCase{name: "text/plain", contentType: "text/plain", body: tokHuman},
			wantStatus: 400,
			wantReason: "token-missing",
		},
		{
			reqCase:    reqCase{name: "no Content-Type", body: form("tc-verification-token", tokHuman)},
			wantStatus: 400,
			wantReason: "token-missing",
		},
		{
			reqCase:    reqCase{name: "GET without anything", method: http.MethodGet},
			wantStatus: 400,
			wantReason: "token-missing",
		},
		{
			reqCase: reqCase{
				name:   "malformed token",
				header: map[string]string{"X-TC-Verification-Token": "not-base64!"},
			},
			wantStatus: 400,
			wantReason: "token-invalid",
			wantCalls:  1,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := &stub{}
			var s seen
			h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: v, Logger: quietLogger()})(probe(&s))
			rec := httptest.NewRecorder()
			r := tc.request()
			r.Header.Set("Accept", "application/json")
			h.ServeHTTP(rec, r)
			require.Equal(t, tc.wantStatus, rec.Code, rec.Body.String())
			assert.Equal(t, tc.wantStatus < 400, s.ran, "the handler ran on a rejection, or did not on success")
			if tc.wantReason != "" {
				assert.Equal(t, tc.wantReason, problem(t, rec).Reason)
			}
			if tc.wantReason == "token-missing" ||
				tc.wantReason == "token-invalid" && tc.wantCalls == 0 {
				assert.Zero(t, v.calls.Load(), "no token, no API call")
			} else {
				assert.Equal(t, tc.wantCalls, v.calls.Load())
			}
			if tc.check != nil {
				tc.check(t, s)
			}
		})
	}
}

func TestBodyLimits(t *testing.T) {
	t.Parallel()
	big := `{"tc-verification-token":"` + tokHuman + `","pad":"` + strings.Repeat("x", 2000) + `"}`
	bigFile, bigFileType := multipartBody(
		t,
		map[string]string{"tc-verification-token": tokHuman},
		strings.Repeat("f", 4096),
	)
	bigText, bigTextType := multipartBody(t, map[string]string{"tc-verification-token": tokHuman,
		"message": strings.Repeat("m", 5<<20)}, "")
	manyTexts, manyTextsType := multipartBody(t, map[string]string{"tc-verification-token": tokHuman,
		"a": strings.Repeat("a", 40<<10), "b": strings.Repeat("b", 40<<10)}, "")
	cases := []struct {
		name       string
		opts       trustcaptcha.Options
		body       io.Reader
		ct         string
		length     int64 // -1: unknown (chunked)
		wantStatus int
	}{
		{
			"JSON over the limit",
			trustcaptcha.Options{MaxBodyBytes: 1024},
			strings.NewReader(big),
			"application/json",
			int64(len(big)),
			413,
		},
		{
			"JSON over the limit, chunked",
			trustcaptcha.Options{MaxBodyBytes: 1024},
			strings.NewReader(big),
			"application/json",
			-1,
			413,
		},
		{
			"JSON at the limit",
			trustcaptcha.Options{MaxBodyBytes: int64(len(big))},
			strings.NewReader(big),
			"application/json",
			-1,
			204,
		},
		{
			"form over the limit",
			trustcaptcha.Options{MaxBodyBytes: 100},
			strings.NewReader(form("tc-verification-token", tokHuman, "pad", strings.Repeat("y", 200))),
			"application/x-www-form-urlencoded",
			-1,
			413,
		},
		{
			"multipart file over the memory limit goes to disk",
			trustcaptcha.Options{MaxBodyBytes: 1024},
			strings.NewReader(bigFile),
			bigFileType,
			int64(len(bigFile)),
			204,
		},
		{
			"multipart over its own limit",
			trustcaptcha.Options{MaxBodyBytes: 1024, MaxMultipartBytes: 2048},
			strings.NewReader(bigFile),
			bigFileType,
			-1,
			413,
		},
		{
			"multipart over its limit by Content-Length",
			trustcaptcha.Options{MaxBodyBytes: 1024, MaxMultipartBytes: 2048},
			strings.NewReader(bigFile),
			bigFileType,
			int64(len(bigFile)),
			413,
		},
		{
			"multipart text field over MaxBodyBytes",
			trustcaptcha.Options{MaxBodyBytes: 64 << 10},
			strings.NewReader(bigText),
			bigTextType,
			int64(len(bigText)),
			413,
		},
		{
			"multipart text fields over MaxBodyBytes together",
			trustcaptcha.Options{MaxBodyBytes: 64 << 10},
			strings.NewReader(manyTexts),
			manyTextsType,
			-1,
			413,
		},
		{
			"100 MB without Content-Length",
			trustcaptcha.Options{},
			io.LimitReader(zeros{}, 100<<20),
			"application/json",
			-1,
			413,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := &stub{}
			tc.opts.Verifier, tc.opts.Logger = v, quietLogger()
			var s seen
			h := trustcaptcha.RequireCaptcha(tc.opts)(probe(&s))
			r := httptest.NewRequest(http.MethodPost, "/upload", tc.body)
			r.ContentLength = tc.length
			r.Header.Set("Content-Type", tc.ct)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			require.Equal(t, tc.wantStatus, rec.Code, rec.Body.String())
			assert.Equal(t, tc.wantStatus == 204, s.ran)
			if tc.wantStatus == 413 {
				assert.Zero(t, v.calls.Load())
				assert.Contains(t, rec.Body.String(), "body-too-large")
			}
			if strings.HasPrefix(tc.ct, "multipart/") && s.ran {
				assert.Equal(t, strings.Repeat("f", 4096), s.file)
			}
		})
	}
}

func TestDecisions(t *testing.T) {
	t.Parallel()
	unreachable := fmt.Errorf("%w: dial tcp: connection refused", trustcaptcha.ErrServerUnreachable)
	clientFailover := fmt.Errorf("%w (HTTP 412)", trustcaptcha.ErrClientReportedFailover)
	cases := []struct {
		name         string
		token        string
		verifyErr    error
		opts         trustcaptcha.Options
		wantStatus   int
		wantReason   string // public reason in the response
		wantFailover bool
	}{
		{name: "human passes", token: tokHuman, wantStatus: 204},
		{name: "score at the threshold passes", token: tokEdge, wantStatus: 204},
		{name: "bot rejected", token: tokBot, wantStatus: 400, wantReason: "score-too-high"},
		{
			name:       "bot admitted by a lenient threshold",
			token:      tokBot,
			opts:       trustcaptcha.Options{Threshold: 0.95},
			wantStatus: 204,
		},
		{
			name:       "strict threshold rejects at 0.5",
			token:      tokEdge,
			opts:       trustcaptcha.Options{Threshold: 0.3},
			wantStatus: 400,
			wantReason: "score-too-high",
		},
		{
			name:       "failed verification rejected",
			token:      tokFailed,
			wantStatus: 400,
			wantReason: "verification-failed",
		},
		{
			name:       "failed verification even at threshold 1",
			token:      tokFailed,
			opts:       trustcaptcha.Options{Threshold: 1},
			wantStatus: 400,
			wantReason: "verification-failed",
		},
		{
			name:       "unknown verification",
			token:      tokenFor(someID),
			wantStatus: 400,
			wantReason: "verification-not-found",
		},
		{
			name:       "not finished",
			verifyErr:  trustcaptcha.ErrVerificationNotFinished,
			wantStatus: 400,
			wantReason: "verification-not-finished",
		},
		{
			name:       "expired",
			verifyErr:  trustcaptcha.ErrResultExpired,
			wantStatus: 400,
			wantReason: "result-expired",
		},
		{
			name:       "retrieval limit",
			verifyErr:  trustcaptcha.ErrRetrievalLimitReached,
			wantStatus: 400,
			wantReason: "retrieval-limit-reached",
		},
		{
			name:       "retrieval limit never fails open",
			verifyErr:  trustcaptcha.ErrRetrievalLimitReached,
			opts:       trustcaptcha.Options{Failover: trustcaptcha.FailOpenTrustingClientFailover},
			wantStatus: 400,
			wantReason: "retrieval-limit-reached",
		},
		{
			name:       "bad key rejected, vaguely",
			verifyErr:  trustcaptcha.ErrAPIKeyInvalid,
			wantStatus: 400,
			wantReason: "captcha-unavailable",
		},
		{
			name:       "bad key never fails open",
			verifyErr:  trustcaptcha.ErrAPIKeyInvalid,
			opts:       trustcaptcha.Options{Failover: trustcaptcha.FailOpenTrustingClientFailover},
			wantStatus: 400,
			wantReason: "captcha-unavailable",
		},
		{
			name:       "unexpected answer never fails open",
			verifyErr:  trustcaptcha.ErrUnexpectedResponse,
			opts:       trustcaptcha.Options{Failover: trustcaptcha.FailOpen},
			wantStatus: 400,
			wantReason: "captcha-unavailable",
		},
		{name: "custom policy never sees a bad key", verifyErr: trustcaptcha.ErrAPIKeyInvalid,
			opts: trustcaptcha.Options{
				Failover: trustcaptcha.FailoverFunc(func(*http.Request, error) bool { return true }),
			}, wantStatus: 400, wantReason: "captcha-unavailable"},
		{
			name:       "unreachable fails closed by default",
			verifyErr:  unreachable,
			wantStatus: 400,
			wantReason: "captcha-unavailable",
		},
		{
			name:         "unreachable admitted by FailOpen",
			verifyErr:    unreachable,
			opts:         trustcaptcha.Options{Failover: trustcaptcha.FailOpen},
			wantStatus:   204,
			wantFailover: true,
		},
		{
			name:         "breaker open admitted by FailOpen",
			verifyErr:    fmt.Errorf("%w: %w", trustcaptcha.ErrServerUnreachable, trustcaptcha.ErrBreakerOpen),
			opts:         trustcaptcha.Options{Failover: trustcaptcha.FailOpen},
			wantStatus:   204,
			wantFailover: true,
		},
		{
			name:       "client failover rejected by default",
			verifyErr:  clientFailover,
			wantStatus: 400,
			wantReason: "client-failover-unconfirmed",
		},
		{
			name:       "client failover not admitted by FailOpen",
			verifyErr:  clientFailover,
			opts:       trustcaptcha.Options{Failover: trustcaptcha.FailOpen},
			wantStatus: 400,
			wantReason: "client-failover-unconfirmed",
		},
		{
			name:         "client failover admitted when trusted",
			verifyErr:    clientFailover,
			opts:         trustcaptcha.Options{Failover: trustcaptcha.FailOpenTrustingClientFailover},
			wantStatus:   204,
			wantFailover: true,
		},
		{
			name:      "custom policy per cause",
			verifyErr: clientFailover,
			opts: trustcaptcha.Options{Failover: trustcaptcha.FailoverFunc(func(r *http.Request, err error) bool {
				return errors.Is(err, trustcaptcha.ErrClientReportedFailover) && r.Header.Get("X-Logged-In") == "yes"
			})},
			wantStatus: 400,
			wantReason: "client-failover-unconfirmed",
		},
		{
			name:       "unknown verifier error",
			verifyErr:  errors.New("database down"),
			wantStatus: 400,
			wantReason: "captcha-unavailable",
		},
		{name: "token missing", token: "-", wantStatus: 400, wantReason: "token-missing"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			v := &stub{err: tc.verifyErr}
			opts := tc.opts
			opts.Verifier, opts.Logger = v, quietLogger()
			opts.ReplayStore = trustcaptcha.NewMemoryStore() // the cases share tokens, not claims
			var s seen
			h := trustcaptcha.RequireCaptcha(opts)(probe(&s))
			r := httptest.NewRequest(http.MethodPost, "/contact", nil)
			tok := tc.token
			if tok == "" {
				tok = tokHuman
			}
			if tok != "-" {
				r.Header.Set("X-TC-Verification-Token", tok)
			}
			r.Header.Set("Accept", "application/problem+json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			require.Equal(t, tc.wantStatus, rec.Code, rec.Body.String())
			if tc.wantStatus >= 400 {
				assert.False(t, s.ran)
				p := problem(t, rec)
				assert.Equal(t, tc.wantReason, p.Reason)
				assert.Equal(t, tc.wantStatus, p.Status)
				if tok != "-" {
					assert.NotContains(t, rec.Body.String(), tok)
				}
				assert.NotContains(t, rec.Body.String(), "database down")
				assert.NotContains(t, rec.Body.String(), "dial tcp")
				return
			}
			require.True(t, s.ran)
			assert.Equal(t, tc.wantFailover, s.failover)
			assert.Equal(t, !tc.wantFailover, s.hasResult, "ResultFromContext is ok only for a verified result")
			if s.hasResult {
				assert.True(t, s.result.VerificationPassed)
			}
		})
	}
}

func TestLimitFailoverBoundsAdmissions(t *testing.T) {
	t.Parallel()
	v := &stub{err: fmt.Errorf("%w: timeout", trustcaptcha.ErrServerUnreachable)}
	var reasons []string
	var mu sync.Mutex
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: v, Logger: quietLogger(),
		Failover: trustcaptcha.LimitFailover(trustcaptcha.FailOpen, 3, time.Hour),
		OnDecision: func(_ *http.Request, d trustcaptcha.Decision) {
			mu.Lock()
			defer mu.Unlock()
			reasons = append(reasons, fmt.Sprintf("%v/%s", d.Admitted, d.Reason))
		},
	})(probe(&seen{}))
	codes := []int{}
	for range 5 {
		rec := send(h, tokenFor(freshID()))
		codes = append(codes, rec.Code)
	}
	assert.Equal(t, []int{204, 204, 204, 400, 400}, codes)
	assert.Equal(t, []string{"true/server-unreachable", "true/server-unreachable", "true/server-unreachable",
		"false/failover-limit-reached", "false/failover-limit-reached"}, reasons)

	// The window refills.
	clock := newFakeClock()
	p := trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 1, time.Minute,
		trustcaptcha.NewMemoryStoreWithClock(clock.Now, 10))
	err := fmt.Errorf("%w", trustcaptcha.ErrServerUnreachable)
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	assert.True(t, p.Admit(r, err))
	assert.False(t, p.Admit(r, err))
	clock.Advance(time.Minute)
	assert.True(t, p.Admit(r, err), "a new window, a new budget")
	assert.False(t, p.Admit(r, err))
	assert.False(
		t,
		trustcaptcha.LimitFailover(trustcaptcha.FailClosed, 5, time.Second).Admit(r, err),
		"a limit never admits what the policy rejects",
	)
	assert.Panics(t, func() { trustcaptcha.LimitFailover(trustcaptcha.FailOpen, 0, time.Second) })
	assert.Panics(t, func() { trustcaptcha.LimitFailoverShared(trustcaptcha.FailOpen, 1, time.Second, nil) })
}

func TestRequireCaptchaPanicsOnWiringMistakes(t *testing.T) {
	t.Parallel()
	v := &stub{}
	cases := map[string]trustcaptcha.Options{
		"nil verifier":          {},
		"nil VerifierFunc":      {Verifier: trustcaptcha.VerifierFunc(nil)},
		"NaN threshold":         {Verifier: v, Threshold: math.NaN()},
		"negative threshold":    {Verifier: v, Threshold: -0.1},
		"threshold above one":   {Verifier: v, Threshold: 1.5},
		"negative body limit":   {Verifier: v, MaxBodyBytes: -1},
		"negative multipart":    {Verifier: v, MaxMultipartBytes: -1},
		"origin without scheme": {Verifier: v, AllowedOrigins: []string{"example.com"}},
		"origin with path":      {Verifier: v, AllowedOrigins: []string{"https://example.com/contact"}},
		"bad proxy":             {Verifier: v, TrustedProxies: []string{"10.0.0.0/33"}},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			assert.Panics(t, func() { trustcaptcha.RequireCaptcha(opts) })
		})
	}
	assert.NotPanics(t, func() {
		trustcaptcha.RequireCaptcha(
			trustcaptcha.Options{
				Verifier:       v,
				Threshold:      1,
				AllowedOrigins: []string{"https://Example.com/"},
				TrustedProxies: []string{"10.0.0.1", "fd00::/8"},
			},
		)
	})
}

func TestRejectionResponse(t *testing.T) {
	t.Parallel()
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: &stub{}, Logger: quietLogger()})(probe(&seen{}))
	cases := []struct {
		name, accept, contentType, wantType string
	}{
		{
			"browser form post gets text",
			"text/html,application/xhtml+xml,*/*;q=0.8",
			"application/x-www-form-urlencoded",
			"text/plain; charset=utf-8",
		},
		{"JSON client gets problem+json", "application/json", "application/json", "application/problem+json"},
		{"JSON body, no Accept", "", "application/json", "application/problem+json"},
		{"curl default", "*/*", "", "text/plain; charset=utf-8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/contact", strings.NewReader(`{}`))
			r.Header.Set("Accept", tc.accept)
			r.Header.Set("Content-Type", tc.contentType)
			r.Header.Set("X-TC-Verification-Token", tokBot)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			assert.Equal(t, 400, rec.Code)
			assert.Equal(t, tc.wantType, rec.Header().Get("Content-Type"))
			assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			assert.Contains(t, rec.Body.String(), "score-too-high")
			assert.NotContains(t, rec.Body.String(), tokBot)
			assert.NotContains(t, rec.Body.String(), "0.90", "the score is not told to the client")
		})
	}
}

func TestCustomErrorHandler(t *testing.T) {
	t.Parallel()
	var got error
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: &stub{},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			http.Redirect(w, r, "/contact?error="+trustcaptcha.Reason(err), http.StatusSeeOther)
		},
	})(probe(&seen{}))
	rec := send(h, tokFailed)
	assert.Equal(t, http.StatusSeeOther, rec.Code)
	assert.Equal(t, "/contact?error=verification-failed", rec.Header().Get("Location"))
	assert.ErrorIs(t, got, trustcaptcha.ErrVerificationFailed)
	assert.Equal(t, 400, trustcaptcha.StatusCode(got))
}

func TestOperatorErrorsAreLoggedNotShown(t *testing.T) {
	t.Parallel()
	var logs bytes.Buffer
	v := &stub{err: fmt.Errorf("%w (HTTP 403)", trustcaptcha.ErrAPIKeyInvalid)}
	h := trustcaptcha.RequireCaptcha(
		trustcaptcha.Options{Verifier: v, Logger: slog.New(slog.NewTextHandler(&logs, nil))},
	)(
		probe(&seen{}),
	)
	rec := send(h, tokHuman)
	assert.Equal(t, 400, rec.Code)
	assert.NotContains(t, rec.Body.String(), "key")
	assert.Contains(t, logs.String(), "level=ERROR")
	assert.Contains(t, logs.String(), "api-key-invalid")
	assert.NotContains(t, logs.String(), tokHuman)

	// A client mistake is not the operator's problem: nothing logged.
	logs.Reset()
	send(h, "")
	assert.Empty(t, logs.String())
}

func TestAllowedOrigins(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		origins []string
		want    int
	}{
		{[]string{"https://shop.example"}, 204},
		{[]string{"HTTPS://SHOP.EXAMPLE/"}, 204},
		{[]string{"https://other.example", "https://shop.example"}, 204},
		{[]string{"https://other.example"}, 400},
		{[]string{"http://shop.example"}, 400},
	} {
		var s seen
		h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: &stub{}, AllowedOrigins: tc.origins})(probe(&s))
		rec := send(h, tokHuman)
		assert.Equal(t, tc.want, rec.Code, "%v", tc.origins)
		if tc.want == 400 {
			assert.Contains(t, rec.Body.String(), "origin-not-allowed")
		}
	}
}

func TestSkip(t *testing.T) {
	t.Parallel()
	v := &stub{}
	var s seen
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: v, Skip: trustcaptcha.SkipSafeMethods})(probe(&s))
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodOptions} {
		s = seen{}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/contact", nil))
		assert.Equal(t, 204, rec.Code, m)
		assert.True(t, s.ran)
		_, ok := trustcaptcha.DecisionFromContext(context.Background())
		assert.False(t, ok)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		s = seen{}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(m, "/contact", nil))
		assert.Equal(t, 400, rec.Code, m)
		assert.False(t, s.ran)
	}
	assert.Zero(t, v.calls.Load())

	// Nothing is skipped by default: wrapping a GET route protects it.
	s = seen{}
	rec := httptest.NewRecorder()
	trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: v})(
		probe(&s),
	).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Equal(t, 400, rec.Code)
}

func TestClientGoneStopsTheRequest(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	v := trustcaptcha.VerifierFunc(func(ctx context.Context, token string) (*trustcaptcha.Result, error) {
		close(started)
		<-ctx.Done()
		// A verifier that ignores the cancellation and says "passed".
		return &trustcaptcha.Result{VerificationPassed: true, Score: 0}, nil
	})
	var s seen
	var d trustcaptcha.Decision
	h := trustcaptcha.RequireCaptcha(
		trustcaptcha.Options{Verifier: v, Failover: trustcaptcha.FailOpen, ReportOnly: true,
			OnDecision: func(_ *http.Request, dd trustcaptcha.Decision) { d = dd }},
	)(
		probe(&s),
	)
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest(http.MethodPost, "/contact", nil).WithContext(ctx)
	r.Header.Set("X-TC-Verification-Token", tokHuman)
	go func() { <-started; cancel() }()
	h.ServeHTTP(httptest.NewRecorder(), r)
	assert.False(t, s.ran, "the next handler ran for a client that went away")
	assert.Equal(t, "request-canceled", d.Reason)
	assert.ErrorIs(t, d.Err, context.Canceled)
}

func TestReportOnly(t *testing.T) {
	t.Parallel()
	var events []trustcaptcha.Decision
	var mu sync.Mutex
	opts := trustcaptcha.Options{Verifier: &stub{}, ReportOnly: true, MaxBodyBytes: 64,
		OnDecision: func(_ *http.Request, d trustcaptcha.Decision) { mu.Lock(); events = append(events, d); mu.Unlock() }}
	var s seen
	h := trustcaptcha.RequireCaptcha(opts)(probe(&s))

	rec := send(h, tokBot)
	assert.Equal(t, 204, rec.Code, "report-only never blocks")
	require.True(t, s.ran)
	assert.False(t, s.hasResult, "a result that would be rejected is not offered as passed")
	assert.False(t, s.decision.Admitted)
	assert.True(t, s.decision.ReportOnly)
	assert.Equal(t, "score-too-high", s.decision.Reason)
	assert.Equal(t, 0.9, s.decision.Score)
	assert.Equal(t, 400, s.decision.Status)

	// Even without a token the handler runs and the body is intact.
	s = seen{}
	r := httptest.NewRequest(http.MethodPost, "/contact", strings.NewReader(`{"a":1}`))
	r.Header.Set("Content-Type", "application/json")
	h.ServeHTTP(httptest.NewRecorder(), r)
	assert.True(t, s.ran)
	assert.Equal(t, `{"a":1}`, s.body)
	assert.Equal(t, "token-missing", s.decision.Reason)

	// An oversized body still gets 413: it cannot be handed on.
	s = seen{}
	r = httptest.NewRequest(http.MethodPost, "/contact", strings.NewReader(`{"a":"`+strings.Repeat("x", 100)+`"}`))
	r.Header.Set("Content-Type", "application/json")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	assert.Equal(t, 413, rec.Code)
	assert.False(t, s.ran)
	assert.Len(t, events, 3)
}

func TestOnDecisionEvents(t *testing.T) {
	t.Parallel()
	var got []trustcaptcha.Decision
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: &stub{}, Logger: quietLogger(),
		OnDecision: func(_ *http.Request, d trustcaptcha.Decision) { got = append(got, d) }})(probe(&seen{}))
	for _, tok := range []string{tokHuman, tokBot} {
		send(h, tok)
	}
	require.Len(t, got, 2)
	assert.True(t, got[0].Admitted)
	assert.Equal(t, "passed", got[0].Reason)
	assert.NoError(t, got[0].Err)
	assert.Equal(t, 0.1, got[0].Score)
	assert.Zero(t, got[0].Status)
	assert.Positive(t, got[0].Latency)
	assert.False(t, got[1].Admitted)
	assert.Equal(t, "score-too-high", got[1].Reason)
	assert.ErrorIs(t, got[1].Err, trustcaptcha.ErrScoreTooHigh)
	assert.Equal(t, 400, got[1].Status)
	for _, d := range got {
		assert.NotContains(t, fmt.Sprintf("%+v %v", d, d.Err), tokHuman)
		assert.NotContains(t, fmt.Sprintf("%+v %v", d, d.Err), tokBot)
	}
}

func TestMatchClientIP(t *testing.T) {
	t.Parallel()
	// The stub's results were solved from 203.0.113.7.
	cases := []struct {
		name    string
		proxies []string
		remote  string
		xff     []string
		want    int
	}{
		{"direct, same address", nil, "203.0.113.7:5555", nil, 204},
		{"direct, IPv4-mapped IPv6", nil, "[::ffff:203.0.113.7]:5555", nil, 204},
		{"direct, other address", nil, "198.51.100.9:5555", nil, 400},
		{"spoofed header from an untrusted peer", nil, "198.51.100.9:5555", []string{"203.0.113.7"}, 400},
		{
			"spoofed header, trusted proxies configured",
			[]string{"10.0.0.0/8"},
			"198.51.100.9:5555",
			[]string{"203.0.113.7"},
			400,
		},
		{"behind one proxy", []string{"10.0.0.1"}, "10.0.0.1:443", []string{"203.0.113.7"}, 204},
		{"behind one proxy, other client", []string{"10.0.0.1"}, "10.0.0.1:443", []string{"198.51.100.9"}, 400},
		{"behind two proxies", []string{"10.0.0.0/8"}, "10.0.0.1:443", []string{"203.0.113.7, 10.0.0.2"}, 204},
		{
			"behind two proxies, split headers",
			[]string{"10.0.0.0/8"},
			"10.0.0.1:443",
			[]string{"203.0.113.7", "10.0.0.2"},
			204,
		},
		{
			"client-forged left entry is ignored",
			[]string{"10.0.0.0/8"},
			"10.0.0.1:443",
			[]string{"203.0.113.7, 198.51.100.9, 10.0.0.2"},
			400,
		},
		{"garbage in the header", []string{"10.0.0.0/8"}, "10.0.0.1:443", []string{"not-an-ip, 10.0.0.2"}, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := trustcaptcha.RequireCaptcha(
				trustcaptcha.Options{Verifier: &stub{}, MatchClientIP: true, TrustedProxies: tc.proxies},
			)(
				probe(&seen{}),
			)
			r := httptest.NewRequest(http.MethodPost, "/contact", nil)
			r.RemoteAddr = tc.remote
			r.Header.Set("X-TC-Verification-Token", tokHuman)
			for _, x := range tc.xff {
				r.Header.Add("X-Forwarded-For", x)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			assert.Equal(t, tc.want, rec.Code)
			if tc.want == 400 {
				assert.Contains(t, rec.Body.String(), "ip-mismatch")
			}
		})
	}
}

// The handlers both router tests mount.
func formPage(w http.ResponseWriter, r *http.Request) { _, _ = io.WriteString(w, "the form") }

func formSubmit(w http.ResponseWriter, r *http.Request) {
	_, _ = io.WriteString(w, "thanks "+r.FormValue("name"))
}

func signup(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	_ = json.NewDecoder(r.Body).Decode(&body)
	_, _ = fmt.Fprintf(w, "welcome %v", body["email"])
}

func TestChiGroupAndWith(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	captcha := trustcaptcha.RequireCaptcha(
		trustcaptcha.Options{Verifier: api.Client(), Skip: trustcaptcha.SkipSafeMethods},
	)
	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(captcha)
		r.Get("/contact", formPage)
		r.Post("/contact", formSubmit)
	})
	r.With(trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client()})).Post("/api/signup", signup)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	runRouterChecks(t, srv.URL, api)
}

func TestServeMuxPatterns(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	captcha := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client()})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /contact", formPage)
	mux.Handle("POST /contact", captcha(http.HandlerFunc(formSubmit)))
	mux.Handle("POST /api/signup", captcha(http.HandlerFunc(signup)))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	runRouterChecks(t, srv.URL, api)
}

// runRouterChecks drives a router that serves GET /contact (open), POST
// /contact (form, protected) and POST /api/signup (JSON, protected), end to
// end through the real client and the fake API.
func runRouterChecks(t *testing.T, base string, api *trustcaptchatest.Server) {
	t.Helper()
	do := func(method, path, ct, body string) (int, string) {
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		require.NoError(t, err)
		if ct != "" {
			req.Header.Set("Content-Type", ct)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	code, body := do(http.MethodGet, "/contact", "", "")
	assert.Equal(t, 200, code)
	assert.Equal(t, "the form", body)

	code, body = do(
		http.MethodPost,
		"/contact",
		"application/x-www-form-urlencoded",
		form("name", "Ada", "tc-verification-token", api.Human()),
	)
	assert.Equal(t, 200, code)
	assert.Equal(t, "thanks Ada", body)

	code, _ = do(
		http.MethodPost,
		"/contact",
		"application/x-www-form-urlencoded",
		form("name", "Bot", "tc-verification-token", api.Bot()),
	)
	assert.Equal(t, 400, code)
	code, _ = do(http.MethodPost, "/contact", "application/x-www-form-urlencoded", form("name", "Nobody"))
	assert.Equal(t, 400, code)

	code, body = do(
		http.MethodPost,
		"/api/signup",
		"application/json",
		`{"email":"ada@example.com","tc-verification-token":"`+api.Human()+`"}`,
	)
	assert.Equal(t, 200, code)
	assert.Equal(t, "welcome ada@example.com", body)
	code, body = do(
		http.MethodPost,
		"/api/signup",
		"application/json",
		`{"email":"bot@example.com","tc-verification-token":"`+api.Failed()+`"}`,
	)
	assert.Equal(t, 400, code)
	assert.Contains(t, body, `"reason":"`+"verification-failed"+`"`)
}

func TestFullStackFailover(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	client := api.Client(trustcaptcha.WithBreaker(0, 0))
	var s seen
	closed := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client})(probe(&s))
	open := trustcaptcha.RequireCaptcha(
		trustcaptcha.Options{Verifier: client, Failover: trustcaptcha.FailOpen},
	)(
		probe(&s),
	)
	send := func(h http.Handler, tok string) int {
		r := httptest.NewRequest(http.MethodPost, "/contact", nil)
		r.Header.Set("X-TC-Verification-Token", tok)
		rec := httptest.NewRecorder()
		s = seen{}
		h.ServeHTTP(rec, r)
		return rec.Code
	}
	api.Down(http.StatusServiceUnavailable)
	assert.Equal(t, 400, send(closed, api.Human()))
	assert.Equal(t, 204, send(open, api.Human()))
	assert.True(t, s.failover)
	api.Down(0)
	assert.Equal(
		t,
		400,
		send(open, trustcaptchatest.ClientFailoverToken()),
		"FailOpen alone never admits a forgeable token",
	)
	assert.Equal(t, 204, send(open, api.Human()))
	assert.False(t, s.failover)
	assert.True(t, s.hasResult)
}

func TestConcurrentRequests(t *testing.T) {
	t.Parallel()
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	var admitted, rejected atomic.Int64
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client(), Logger: quietLogger(),
		OnDecision: func(_ *http.Request, d trustcaptcha.Decision) {
			if d.Admitted {
				admitted.Add(1)
			} else {
				rejected.Add(1)
			}
		}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body map[string]string
		if err := json.NewDecoder(r.Body).Decode(&body); err != nil || body["n"] == "" {
			http.Error(w, "body lost", 500)
			return
		}
		w.WriteHeader(204)
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	bot := api.Bot()
	var wg sync.WaitGroup
	errs := make(chan string, 500)
	for i := range 500 {
		wg.Go(func() {
			tok, want := api.Human(), 204 // each human solves once
			if i%2 == 1 {
				tok, want = bot, 400
			}
			resp, err := http.Post(
				srv.URL,
				"application/json",
				strings.NewReader(fmt.Sprintf(`{"n":"%d","tc-verification-token":%q}`, i, tok)),
			)
			if err != nil {
				errs <- err.Error()
				return
			}
			resp.Body.Close()
			if resp.StatusCode != want {
				errs <- fmt.Sprintf("request %d: got %d, want %d", i, resp.StatusCode, want)
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	assert.Equal(t, int64(250), admitted.Load())
	assert.Equal(t, int64(250), rejected.Load())
}

// A blackholed API through the whole stack: each request waits for the
// client's timeout until the breaker opens, then the failover policy decides
// at once; the handler is told it admitted on failover throughout.
func TestOutageThroughTheMiddleware(t *testing.T) {
	t.Parallel()
	c := newClient(
		t,
		blackhole(t),
		trustcaptcha.WithTimeout(100*time.Millisecond),
		trustcaptcha.WithBreaker(3, time.Hour),
	)
	var decisions []trustcaptcha.Decision
	var s seen
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: c, Failover: trustcaptcha.FailOpen,
		OnDecision: func(_ *http.Request, d trustcaptcha.Decision) { decisions = append(decisions, d) }})(probe(&s))
	for range 6 {
		s = seen{}
		rec := send(h, tokenFor(freshID()))
		require.Equal(t, 204, rec.Code)
		assert.True(t, s.failover)
	}
	require.Len(t, decisions, 6)
	for i, d := range decisions {
		assert.Equal(t, "server-unreachable", d.Reason)
		assert.True(t, d.Failover)
		assert.Equal(t, i >= 3, errors.Is(d.Err, trustcaptcha.ErrBreakerOpen), "request %d", i)
		if i < 3 {
			assert.ErrorIs(t, d.Err, context.DeadlineExceeded, "request %d waited for the timeout", i)
		}
	}
}

// The reason codes are a contract: each sentinel maps to its code, its
// status and the code a client sees.
func TestReasonCodes(t *testing.T) {
	t.Parallel()
	cases := []struct {
		err            error
		reason, public string
		status         int
	}{
		{nil, "passed", "passed", 400},
		{trustcaptcha.ErrTokenMissing, "token-missing", "token-missing", 400},
		{trustcaptcha.ErrTokenInvalid, "token-invalid", "token-invalid", 400},
		{trustcaptcha.ErrAPIKeyInvalid, "api-key-invalid", "captcha-unavailable", 400},
		{trustcaptcha.ErrVerificationNotFound, "verification-not-found", "verification-not-found", 400},
		{trustcaptcha.ErrVerificationNotFinished, "verification-not-finished", "verification-not-finished", 400},
		{trustcaptcha.ErrResultExpired, "result-expired", "result-expired", 400},
		{trustcaptcha.ErrRetrievalLimitReached, "retrieval-limit-reached", "retrieval-limit-reached", 400},
		{trustcaptcha.ErrClientReportedFailover, "client-failover-unconfirmed", "client-failover-unconfirmed", 400},
		{trustcaptcha.ErrServerUnreachable, "server-unreachable", "captcha-unavailable", 400},
		{
			fmt.Errorf("%w: %w", trustcaptcha.ErrServerUnreachable, trustcaptcha.ErrBreakerOpen),
			"server-unreachable",
			"captcha-unavailable",
			400,
		},
		{
			fmt.Errorf("%w: %w", trustcaptcha.ErrFailoverLimitReached, trustcaptcha.ErrServerUnreachable),
			"failover-limit-reached",
			"captcha-unavailable",
			400,
		},
		{trustcaptcha.ErrUnexpectedResponse, "unexpected-response", "captcha-unavailable", 400},
		{trustcaptcha.ErrVerificationFailed, "verification-failed", "verification-failed", 400},
		{trustcaptcha.ErrScoreTooHigh, "score-too-high", "score-too-high", 400},
		{fmt.Errorf("wrapped: %w", trustcaptcha.ErrBodyTooLarge), "body-too-large", "body-too-large", 413},
		{trustcaptcha.ErrOriginNotAllowed, "origin-not-allowed", "origin-not-allowed", 400},
		{trustcaptcha.ErrIPMismatch, "ip-mismatch", "ip-mismatch", 400},
		{context.Canceled, "request-canceled", "request-canceled", 400},
		{errors.New("something else"), "unknown", "captcha-unavailable", 400},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.reason, trustcaptcha.Reason(tc.err), "%v", tc.err)
		assert.Equal(t, tc.public, trustcaptcha.PublicReason(tc.err), "%v", tc.err)
		assert.Equal(t, tc.status, trustcaptcha.StatusCode(tc.err), "%v", tc.err)
		if tc.err == nil {
			continue
		}
		rec := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, "/", nil)
		r.Header.Set("Accept", "application/json")
		trustcaptcha.DefaultErrorHandler(rec, r, tc.err)
		p := problem(t, rec)
		assert.Equal(t, tc.public, p.Reason)
		assert.Equal(t, tc.status, rec.Code)
		assert.NotEmpty(t, p.Detail)
		assert.NotContains(t, rec.Body.String(), "something else")
	}
}

// LimitFailover asks the policy it wraps once per request, also when the
// budget is spent; a budget spent on forged client-failover tokens is named
// failover-limit-reached like any other.
func TestLimitFailoverAsksItsPolicyOnce(t *testing.T) {
	t.Parallel()
	var asked atomic.Int64
	policy := trustcaptcha.FailoverFunc(func(*http.Request, error) bool { asked.Add(1); return true })
	var reasons []string
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: &stub{err: fmt.Errorf("%w (HTTP 412)", trustcaptcha.ErrClientReportedFailover)},
		Failover: trustcaptcha.LimitFailover(policy, 1, time.Hour), Logger: quietLogger(),
		OnDecision: func(_ *http.Request, d trustcaptcha.Decision) { reasons = append(reasons, d.Reason) },
	})(probe(&seen{}))
	for range 3 {
		send(h, tokenFor(freshID()))
	}
	assert.Equal(t, int64(3), asked.Load(), "one question per request")
	assert.Equal(t, []string{"client-failover-unconfirmed", "failover-limit-reached",
		"failover-limit-reached"}, reasons)
}
