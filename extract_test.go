package trustcaptcha_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
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
