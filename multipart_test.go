package trustcaptcha_test

import (
	"bytes"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/textproto"
	"os"
	"strings"
	"testing"

	"github.com/captchakit/trustcaptcha"
	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upload is a multipart form with a text field, the token (if any) and a
// file of size bytes.
func upload(t testing.TB, token string, size int) (body []byte, contentType string) {
	t.Helper()
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	require.NoError(t, mw.WriteField("name", "Ada"))
	if token != "" {
		require.NoError(t, mw.WriteField("tc-verification-token", token))
	}
	fw, err := mw.CreateFormFile("upload", "big.bin")
	require.NoError(t, err)
	_, err = io.Copy(fw, io.LimitReader(zeros{}, int64(size)))
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	return b.Bytes(), mw.FormDataContentType()
}

// TestMultipartLeavesNoTempFiles: whatever wraps the middleware (a chi
// router, http.StripPrefix) and whatever the verdict, no temporary file of a
// multipart upload outlives its request: neither the middleware's spool nor
// what the handler's own ParseMultipartForm wrote. Not parallel: it owns
// $TMPDIR.
func TestMultipartLeavesNoTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	var got struct {
		name string
		size int64
	}
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 10); err != nil { // files go to $TMPDIR
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f, _, err := r.FormFile("upload")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		defer f.Close()
		n, _ := io.Copy(io.Discard, f)
		got.name, got.size = r.FormValue("name"), n
		w.WriteHeader(http.StatusNoContent)
	})
	captcha := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: &stub{}, Logger: quietLogger()})
	r := chi.NewRouter()
	r.With(captcha).Post("/chi/upload", handler)
	r.Mount("/strip", http.StripPrefix("/strip", captcha(handler)))
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)

	const size = 3 << 20 // over MaxBodyBytes: the middleware spools it to disk
	for _, path := range []string{"/chi/upload", "/strip/upload"} {
		for _, tc := range []struct {
			name  string
			token string
			want  int
		}{
			{"admitted", tokHuman, http.StatusNoContent},
			{"bot", tokBot, http.StatusBadRequest},
			{"no token", "", http.StatusBadRequest},
			{"unknown verification", tokenFor(someID), http.StatusBadRequest},
		} {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				got.name, got.size = "", 0
				body, ct := upload(t, tc.token, size)
				resp, err := http.Post(srv.URL+path, ct, bytes.NewReader(body))
				require.NoError(t, err)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				assert.Equal(t, tc.want, resp.StatusCode)
				if tc.want == http.StatusNoContent {
					assert.Equal(t, "Ada", got.name, "the handler parses the form as without us")
					assert.Equal(t, int64(size), got.size, "the handler gets the whole file")
				}
				left, err := os.ReadDir(tmp)
				require.NoError(t, err)
				assert.Empty(t, left, "temporary files outlived the request")
			})
		}
	}
}

// In ReportOnly mode a multipart request without a token still reaches the
// handler whole.
func TestMultipartReportOnlyKeepsTheBody(t *testing.T) {
	t.Parallel()
	for _, size := range []int{100, 2 << 20} { // in memory, and spooled to a file
		body, ct := upload(t, "", size)
		var got int64
		var name string
		h := trustcaptcha.RequireCaptcha(
			trustcaptcha.Options{Verifier: &stub{}, ReportOnly: true, Logger: quietLogger()},
		)(
			http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if f, _, err := r.FormFile("upload"); err == nil {
					got, _ = io.Copy(io.Discard, f)
					f.Close()
				}
				name = r.FormValue("name")
			}),
		)
		r := httptest.NewRequest(http.MethodPost, "/upload", bytes.NewReader(body))
		r.Header.Set("Content-Type", ct)
		h.ServeHTTP(httptest.NewRecorder(), r)
		assert.Equal(t, int64(size), got, "the file reached the handler")
		assert.Equal(t, "Ada", name)
		if r.MultipartForm != nil {
			_ = r.MultipartForm.RemoveAll()
		}
	}
}

// multipartShape is a multipart body of parts made of unit (headers, blank
// line and content), repeated to about size bytes (at least once), with the
// token field last.
func multipartShape(unit string, size int) []byte {
	last := "--B\r\nContent-Disposition: form-data; name=\"tc-verification-token\"\r\n\r\n" + tokHuman + "\r\n--B--\r\n"
	unit = "--B\r\n" + unit + "\r\n"
	return repeatBody("", unit, last, max(size, len(unit)+len(last)))
}

// partsForm is a multipart form of n text fields of value, then the token.
func partsForm(n int, value string, extraHeaders int) []byte {
	var b strings.Builder
	for i := range n {
		fmt.Fprintf(&b, "--B\r\nContent-Disposition: form-data; name=\"f%d\"\r\n", i)
		for range extraHeaders {
			b.WriteString("X-A: b\r\n")
		}
		fmt.Fprintf(&b, "\r\n%s\r\n", value)
	}
	fmt.Fprintf(&b, "--B\r\nContent-Disposition: form-data; name=\"tc-verification-token\"\r\n\r\n%s\r\n--B--\r\n", tokHuman)
	return []byte(b.String())
}

// TestMultipartPartLimits: net/http's numbers (1,000 parts, 10,000 part
// header lines) and the cost rule answer 413 before the handler runs; forms
// a browser sends pass.
func TestMultipartPartLimits(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("v", 2000) // parts large enough that only the counts bind
	huge := strings.Repeat("v", 16000)
	cases := []struct {
		name string
		body []byte
		want int
	}{
		{"30 short fields", partsForm(30, "some value", 0), http.StatusNoContent},
		{"50 short fields (the cost rule: send the token in the header)", partsForm(50, "some value", 0), http.StatusRequestEntityTooLarge},
		{"999 fields of 2 KB (1,000 parts with the token)", partsForm(999, big, 0), http.StatusNoContent},
		{"1,000 fields of 2 KB (1,001 parts)", partsForm(1000, big, 0), http.StatusRequestEntityTooLarge},
		{"100 parts, 99 header lines each (9,900 + 101)", partsForm(100, huge, 98), http.StatusNoContent},
		{"100 parts, 100 header lines each (10,000 + 101)", partsForm(100, huge, 99), http.StatusRequestEntityTooLarge},
		{"2,000 empty fields", partsForm(2000, "", 0), http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var s seen
			h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
				Verifier: &stub{}, Logger: quietLogger(), MaxBodyBytes: 4 << 20,
			})(probe(&s))
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(c.body))
			r.Header.Set("Content-Type", "multipart/form-data; boundary=B")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			require.Equal(t, c.want, rec.Code, rec.Body.String())
			assert.Equal(t, c.want == http.StatusNoContent, s.ran)
		})
	}
}

// TestPanickingHandlerLeavesNoTempFiles: a handler that parses a large
// multipart form and panics leaves no temporary file behind, and the panic
// reaches the recovery middleware in front unchanged.
func TestPanickingHandlerLeavesNoTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	type boom struct{ n int }
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 10); err != nil { // the 2 MiB file goes to $TMPDIR
			t.Errorf("ParseMultipartForm: %v", err)
		}
		panic(boom{42})
	})
	var recovered any
	recoverer := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			defer func() { recovered = recover() }()
			next.ServeHTTP(w, r)
		})
	}
	h := recoverer(trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: &stub{}, Logger: quietLogger(),
	})(handler))
	body, ct := upload(t, tokHuman, 2<<20)
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	r.Header.Set("Content-Type", ct)
	h.ServeHTTP(httptest.NewRecorder(), r)
	assert.Equal(t, boom{42}, recovered, "the panic goes on up unchanged")
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "temporary files left behind")
}

// TestErrorHandlerParseLeavesNoTempFiles: an ErrorHandler that re-renders a
// rejected form parses it with r.ParseMultipartForm, which writes the file
// parts over its memory limit to temporary files; they are removed when the
// request ends, also when the ErrorHandler panics, with a body kept in
// memory by the middleware and with one it spooled to disk. Not parallel: it
// owns $TMPDIR.
func TestErrorHandlerParseLeavesNoTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	type boom struct{}
	for _, tc := range []struct {
		name  string
		size  int // of the file part: in memory below MaxBodyBytes, spooled above
		panic bool
	}{
		{"in memory", 200 << 10, false},
		{"spooled", 3 << 20, false},
		{"in memory, the ErrorHandler panics", 200 << 10, true},
		{"spooled, the ErrorHandler panics", 3 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			parsed := false
			h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
				Verifier: &stub{}, Logger: quietLogger(),
				ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
					// The default memory limit of r.FormValue is 32 MiB; a
					// form re-rendered with a smaller one writes its files.
					require.NoError(t, r.ParseMultipartForm(32<<10))
					parsed = r.FormValue("name") == "Ada"
					if tc.panic {
						panic(boom{})
					}
					trustcaptcha.DefaultErrorHandler(w, r, err)
				},
			})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { t.Error("next handler ran") }))
			body, ct := upload(t, "", tc.size)
			r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
			r.Header.Set("Content-Type", ct)
			rec := httptest.NewRecorder()
			func() {
				defer func() {
					if p := recover(); tc.panic {
						assert.Equal(t, boom{}, p, "the panic goes on up unchanged")
					}
				}()
				h.ServeHTTP(rec, r)
			}()
			assert.True(t, parsed, "the ErrorHandler read the form")
			if !tc.panic {
				assert.Equal(t, http.StatusBadRequest, rec.Code)
			}
			left, err := os.ReadDir(tmp)
			require.NoError(t, err)
			assert.Empty(t, left, "temporary files left behind")
		})
	}
}

// TestOnDecisionParseLeavesNoTempFiles: an OnDecision hook that parses the
// multipart form on its request, behind a router that hands the middleware a
// copy of net/http's request (so net/http does not remove that form), leaves
// no temporary file. Not parallel: it owns $TMPDIR.
func TestOnDecisionParseLeavesNoTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	r := chi.NewRouter()
	r.With(trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: &stub{}, Logger: quietLogger(),
		OnDecision: func(r *http.Request, d trustcaptcha.Decision) {
			assert.NoError(t, r.ParseMultipartForm(32<<10)) // the file goes to $TMPDIR
		},
	})).Post("/upload", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	for _, token := range []string{tokHuman, ""} {
		body, ct := upload(t, token, 200<<10)
		resp, err := http.Post(srv.URL+"/upload", ct, bytes.NewReader(body))
		require.NoError(t, err)
		resp.Body.Close()
	}
	srv.Close() // every request has ended
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "temporary files left behind")
}

// limitForm is a multipart form (boundary B) of the token's part, with
// tokenLines header lines, then files parts of fileSize bytes with lines
// header lines each: the shapes at net/http's limits of 1,000 parts and
// 10,000 part header lines.
func limitForm(files, lines, fileSize, tokenLines int) []byte {
	var b bytes.Buffer
	mw := multipart.NewWriter(&b)
	_ = mw.SetBoundary("B")
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", `form-data; name="tc-verification-token"`)
	for i := 1; i < tokenLines; i++ {
		h.Set(fmt.Sprintf("X-Token-%d", i), "v")
	}
	w, _ := mw.CreatePart(h)
	_, _ = io.WriteString(w, tokHuman)
	for i := range files {
		h := textproto.MIMEHeader{}
		h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file%d"; filename="f%d.bin"`, i, i))
		h.Set("Content-Type", "application/octet-stream")
		for j := 2; j < lines; j++ {
			h.Set(fmt.Sprintf("X-File-%d", j), "v")
		}
		w, _ := mw.CreatePart(h)
		_, _ = w.Write(bytes.Repeat([]byte("z"), fileSize))
	}
	_ = mw.Close()
	return b.Bytes()
}

// TestFormsAtNetHTTPLimits: whole forms at net/http's own limits pass with
// the default options, whose bytes pay for their parts, and one part or one
// header line more is 413. Sent with and without a Content-Length (a body of
// unknown length is read into memory first, then into a file).
func TestFormsAtNetHTTPLimits(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		body []byte
		want int
	}{
		{"1,000 parts: the token and 999 files of 600 bytes", limitForm(999, 2, 600, 1), http.StatusNoContent},
		{"1,001 parts", limitForm(1000, 2, 600, 1), http.StatusRequestEntityTooLarge},
		{"10,000 header lines: 999 files of 10 lines and 1,200 bytes, the token's part of 10",
			limitForm(999, 10, 1200, 10), http.StatusNoContent},
		{"10,001 header lines", limitForm(999, 10, 1200, 11), http.StatusRequestEntityTooLarge},
	}
	for _, c := range cases {
		for _, known := range []bool{true, false} {
			t.Run(fmt.Sprintf("%s, Content-Length known %v", c.name, known), func(t *testing.T) {
				t.Parallel()
				ran, same := false, false
				h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: &stub{}, Logger: quietLogger()})(
					http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
						b, _ := io.ReadAll(r.Body)
						ran, same = true, bytes.Equal(b, c.body)
						w.WriteHeader(http.StatusNoContent)
					}))
				r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(c.body))
				if !known {
					r.ContentLength = -1
				}
				r.Header.Set("Content-Type", "multipart/form-data; boundary=B")
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, r)
				require.Equal(t, c.want, rec.Code, "%d-byte body: %s", len(c.body), rec.Body.String())
				assert.Equal(t, c.want == http.StatusNoContent, ran)
				assert.Equal(t, ran, same, "the handler reads the same bytes")
			})
		}
	}
}
