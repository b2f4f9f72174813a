package trustcaptcha_test

// Reading the token from a request (token_extract.go): every place and
// Content-Type, the limits, the body left readable for the next handler, and
// the fuzz targets. The memory a body costs: token_extract_cost_test.go.

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/captchakit/trustcaptcha"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

// fuzzHandler is the middleware with a stub verifier and a handler that
// reports what it saw.
func fuzzHandler(body *[]byte, ran *bool) http.Handler {
	return trustcaptcha.RequireCaptcha(
		trustcaptcha.Options{Verifier: &stub{}, Logger: quietLogger(), MaxBodyBytes: 64 << 10},
	)(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			*ran = true
			*body, _ = io.ReadAll(r.Body)
			w.WriteHeader(http.StatusNoContent)
		}),
	)
}

// admitted checks the middleware's answer: 204 with the handler run, or
// 400/413 without it; anything else fails. It reports whether it was 204.
func admitted(t *testing.T, code int, ran bool) bool {
	t.Helper()
	switch code {
	case 204:
		if !ran {
			t.Fatalf("204 without the handler")
		}
		return true
	case 400, 413:
		if ran {
			t.Fatalf("the handler ran on %d", code)
		}
		return false
	}
	t.Fatalf("status %d", code)
	return false
}

// FuzzExtractJSON: for any JSON body the middleware answers 204, 400 or 413,
// never panics, calls the handler only with a human's token found as a
// top-level string member, and hands the body on byte for byte.
func FuzzExtractJSON(f *testing.F) {
	for _, s := range []string{
		`{"tc-verification-token":"` + tokHuman + `"}`,
		`{"a":[1,2,{"b":"}"}],"tc-verification-token":"` + tokHuman + `","c":null}`,
		`{"tc\u002dverification-token":"` + tokHuman + `"}`,
		`{"tc-verification-token":"` + tokHuman + `","tc-verification-token":"` + tokBot + `"}`,
		`{"x":{"tc-verification-token":"` + tokHuman + `"}}`, `[]`,
		`{"TC-Verification-Token":"` + tokHuman + `"}`,
		`{"tc-verification-to\u212Aen":"` + tokHuman + `"}`, `null`, `{"tc-verification-token":1}`,
		"\xef\xbb\xbf{}", `{"a":"\"","tc-verification-token":"` + tokHuman + `"} `, strings.Repeat("[", 300),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		var seenBody []byte
		var ran bool
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(in))
		r.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		fuzzHandler(&seenBody, &ran).ServeHTTP(rec, r)
		if !admitted(t, rec.Code, ran) {
			return
		}
		if !bytes.Equal(seenBody, in) {
			t.Fatalf("the handler did not get the body unchanged")
		}
		// encoding/json's own view: a handler decoding into a struct sees
		// the token we admitted.
		var v struct {
			Token string `json:"tc-verification-token"`
		}
		if err := json.Unmarshal(in, &v); err != nil || !bytes.HasPrefix(bytes.TrimSpace(in), []byte("{")) {
			t.Fatalf("admitted a body that is not a JSON object with a string token: %v", err)
		}
		if v.Token != tokHuman && v.Token != tokEdge {
			t.Fatalf("admitted without a passing top-level token")
		}
	})
}

// FuzzExtractForm: any urlencoded or multipart body (the fuzzer picks the
// Content-Type's boundary too) gets 204, 400 or 413, never a panic.
func FuzzExtractForm(f *testing.F) {
	mp, mpType := multipartBody(f, map[string]string{"name": "Ada", "tc-verification-token": tokHuman}, "file")
	_, boundary, _ := strings.Cut(mpType, "boundary=")
	f.Add(false, "", []byte("name=Ada&tc-verification-token="+strings.ReplaceAll(tokHuman, "=", "%3D")))
	f.Add(false, "", []byte("tc-verification-token=%zz&tc-verification-token=a"))
	f.Add(true, boundary, []byte(mp))
	f.Add(true, "B", []byte(mpart("B", "tc-verification-token", tokHuman, "tc-verification-token", tokBot)))
	f.Add(true, "B", []byte("--B\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\nv\r\n"))
	f.Fuzz(func(t *testing.T, multi bool, boundary string, in []byte) {
		var seenBody []byte
		var ran bool
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(in))
		if multi {
			r.Header.Set(
				"Content-Type",
				"multipart/form-data; boundary=\""+strings.NewReplacer(`"`, "", `\`, "").Replace(boundary)+"\"",
			)
		} else {
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		fuzzHandler(&seenBody, &ran).ServeHTTP(rec, r)
		if admitted(t, rec.Code, ran) && !multi {
			if !bytes.Equal(seenBody, in) {
				t.Fatalf("the urlencoded body changed")
			}
			// The token read is the one net/url's parser sees in the field.
			vals, _ := url.ParseQuery(string(in))
			if tok := strings.TrimSpace(strings.Join(vals["tc-verification-token"], "")); tok == "" ||
				strings.Count(tok, strings.TrimSpace(vals["tc-verification-token"][0])) == 0 {
				t.Fatalf("admitted a token net/url does not see: %q", vals)
			}
		}
		if r.MultipartForm != nil {
			_ = r.MultipartForm.RemoveAll()
		}
	})
}

func repeatBody(prefix, unit, suffix string, size int) []byte {
	n := max(0, (size-len(prefix)-len(suffix))/len(unit))
	return []byte(prefix + strings.Repeat(unit, n) + suffix)
}

// TestOuterMaxBytesReaderIs413: behind http.MaxBytesHandler, a body over its
// limit is 413 body-too-large, not a missing token.
func TestOuterMaxBytesReaderIs413(t *testing.T) {
	t.Parallel()
	pad := strings.Repeat("x", 4096)
	mp, mpType := multipartBody(t, map[string]string{"tc-verification-token": tokHuman, "pad": pad}, "")
	cases := []reqCase{
		{name: "json", contentType: "application/json", body: `{"pad":"` + pad + `","tc-verification-token":"` + tokHuman + `"}`},
		{name: "urlencoded", contentType: "application/x-www-form-urlencoded", body: form("pad", pad, "tc-verification-token", tokHuman)},
		{name: "multipart", contentType: mpType, body: mp},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var s seen
			h := http.MaxBytesHandler(trustcaptcha.RequireCaptcha(trustcaptcha.Options{
				Verifier: &stub{}, Logger: quietLogger(),
			})(probe(&s)), 1024)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, c.request())
			assert.Equal(t, http.StatusRequestEntityTooLarge, rec.Code, rec.Body.String())
			assert.Contains(t, rec.Body.String(), "body-too-large")
			assert.False(t, s.ran)
		})
	}
}
