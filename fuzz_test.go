package trustcaptcha_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/captchakit/trustcaptcha"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

// FuzzParseToken: any string either parses to a token whose ID is a
// lower-case UUID (safe in a URL path) or fails with ErrTokenInvalid or
// ErrTokenMissing; it never panics, and a parsed token round-trips.
func FuzzParseToken(f *testing.F) {
	for _, s := range []string{
		tokHuman, unknownTok, "", "not a token", b64(`{"verificationId":"../../admin"}`),
		b64(`{"verificationId":"` + someID + `","clientFailover":true,"expiresAt":"2026-11-25T10:15:00.000Z"}`),
		b64(`{"verificationId":"` + strings.ToUpper(someID) + `","apiEndpoint":"http://127.0.0.1:9"}`),
		b64(`{"verificationId":12}`), b64(`[]`), b64("{\"verificationId\":\"\x00\"}"), tokHuman[:20] + "\n" + tokHuman[20:],
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := trustcaptcha.ParseToken(s)
		if err != nil {
			if trustcaptcha.Reason(err) != "token-invalid" &&
				trustcaptcha.Reason(err) != "token-missing" {
				t.Fatalf("error %v has reason %s", err, trustcaptcha.Reason(err))
			}
			if len(s) > 8 && strings.Contains(err.Error(), s) {
				t.Fatalf("error text holds the token")
			}
			return
		}
		id := tok.VerificationID
		if len(id) != 36 || strings.Trim(id, "0123456789abcdef-") != "" {
			t.Fatalf("parsed ID %q is not a lower-case UUID", id)
		}
		again, err := trustcaptcha.ParseToken(tok.Encode())
		if err != nil || again.VerificationID != id || again.ClientFailover != tok.ClientFailover {
			t.Fatalf("round trip: %+v, %v", again, err)
		}
	})
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

// FuzzResultJSON: decoding an API answer never panics, and whatever decodes
// has a score in [0, 1] and re-encodes to an equal result.
func FuzzResultJSON(f *testing.F) {
	f.Add([]byte(resultJSON(true, 0.3)))
	f.Add(
		[]byte(
			`{"verificationId":"x","verificationPassed":true,"score":1e-300,"resultExpiresAt":"2026-01-02 03:04:05"}`,
		),
	)
	f.Add(
		[]byte(
			`{"verificationId":"x","verificationPassed":false,"score":0,"verificationStartedAt":"2026-01-02T03:04:05+0100"}`,
		),
	)
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		var r trustcaptcha.Result
		if err := json.Unmarshal(in, &r); err != nil {
			return
		}
		if !(r.Score >= 0 && r.Score <= 1) {
			t.Fatalf("score %v accepted", r.Score)
		}
		b, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		var again trustcaptcha.Result
		if err := json.Unmarshal(b, &again); err != nil {
			t.Fatalf("re-decoding %s: %v", b, err)
		}
		if !again.VerificationStartedAt.Equal(r.VerificationStartedAt) || again.Score != r.Score ||
			again.VerificationPassed != r.VerificationPassed {
			t.Fatalf("round trip changed the result")
		}
	})
}
