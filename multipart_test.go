package trustcaptcha_test

import (
	"bytes"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/go-chi/chi/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
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
