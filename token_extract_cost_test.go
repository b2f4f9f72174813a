//go:build !race

package trustcaptcha_test

// The memory a body of any shape costs while the middleware reads it: at most
// 4 x its size + 64 KiB, the bound the cost rule of multipart.go keeps. Allocation
// figures are measured without the race detector, which changes what escapes
// to the heap, so these tests are built only without it; .ci/run runs them
// so, by name, on every landing.

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
)

// costShape is one shape of body an attacker (or a large honest form) sends.
type costShape struct {
	name string
	ct   string
	body []byte
}

func costShapes() []costShape {
	const mp = "multipart/form-data; boundary=B"
	const form = "application/x-www-form-urlencoded"
	distinctHeaders := ""
	for i := range 2000 {
		distinctHeaders += fmt.Sprintf("X-%d: v\r\n", i)
	}
	shapes := []costShape{
		{"json/deep nesting", "application/json", repeatBody(`{"a":`, "[", "", 1<<20)},
		{"json/deep nesting in objects", "application/json", repeatBody(`{"a":`, `{"a":`, "", 1<<20)},
		{"json/huge string", "application/json", repeatBody(`{"a":"`, "x", `"}`, 1<<20-1)},
		{"json/huge number", "application/json", repeatBody(`{"a":`, "1", `}`, 1<<20-1)},
		{"json/huge token member", "application/json", repeatBody(`{"tc-verification-token":"`, "A", `"}`, 1<<20-1)},
		{"json/many members", "application/json", repeatBody(`{`, `"a":0,`, `"b":0}`, 1<<20-1)},
		{"json/many token members", "application/json",
			repeatBody(`{`, `"tc-verification-token":"`+tokHuman+`",`, `"b":0}`, 1<<20-1)},
		{"urlencoded/100,000 empty pairs", form, repeatBody("", "=&", "", 200_000)},
		{"urlencoded/empty pairs to 1 MiB", form, repeatBody("", "&", "", 1<<20)},
		{"urlencoded/9,000 distinct keys", form, distinctKeys(9_000)},
		{"urlencoded/escaped keys", form, repeatBody("", "%41=%42&", "", 1<<20)},
		{"multipart/2,000 distinct headers in one part", mp, multipartShape(distinctHeaders, 1)},
		{"multipart/one large file", mp,
			multipartShape("Content-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n"+
				strings.Repeat("z", 5<<20), 1)},
	}
	// Whole forms at net/http's limits of 1,000 parts and 10,000 part header
	// lines, which are admitted, and one part or one line beyond.
	shapes = append(shapes,
		costShape{"multipart/1,000 parts, 999 files of 600 bytes", mp, limitForm(999, 2, 600, 1)},
		costShape{"multipart/1,001 parts", mp, limitForm(1000, 2, 600, 1)},
		costShape{"multipart/10,000 header lines", mp, limitForm(999, 10, 1200, 10)},
		costShape{"multipart/10,001 header lines", mp, limitForm(999, 10, 1200, 11)},
	)
	// Shapes whose cost is per part: from a few parts to far past every cap.
	for _, p := range []struct{ name, unit string }{
		{"nameless parts", ""},
		{"empty fields", "Content-Disposition: form-data; name=\"a\"\r\n"},
		{"empty files", "Content-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n"},
		{"50 headers per part", strings.Repeat("X-A: b\r\n", 50)},
		{"browser form, short fields", "Content-Disposition: form-data; name=\"field\"\r\n\r\nsome value"},
	} {
		for _, size := range []int{4 << 10, 64 << 10, 3 << 20} {
			shapes = append(shapes, costShape{fmt.Sprintf("multipart/%s, %d KiB", p.name, size>>10), mp,
				multipartShape(p.unit, size)})
		}
	}
	return shapes
}

func distinctKeys(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, "k%d=&", i)
	}
	return b.Bytes()
}

// chunks is a reader that returns at most n bytes a call, as a slow client's
// body arrives.
type chunks struct {
	r io.Reader
	n int
}

func (c *chunks) Read(p []byte) (int, error) { return c.r.Read(p[:min(len(p), c.n)]) }

// allocated returns the bytes allocated while f ran, the least of three
// runs (other goroutines can only add).
func allocated(f func()) uint64 {
	least := uint64(1<<64 - 1)
	for range 3 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		f()
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	return least
}

// TestRequestCostIsBoundedByBodySize sends every shape whole, trickled
// (256-byte reads) and trickled without a Content-Length through the middleware and checks the memory allocated
// while it runs: at most 4 x the body + 64 KiB. The verifier answers at once
// and the handler does nothing, so what is measured is reading the body.
// Not parallel: it reads the process's allocation counters.
func TestRequestCostIsBoundedByBodySize(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: memVerifier, AllowReplay: true, Logger: quietLogger(),
		MaxMultipartBytes: 8 << 20,
	})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Logf("%-46s %-8s %9s %11s %6s %s", "shape", "sent", "body", "allocated", "ratio", "status")
	for _, s := range costShapes() {
		for _, sent := range []string{"whole", "trickled", "chunked"} {
			status := 0
			alloc := allocated(func() {
				var body io.Reader = bytes.NewReader(s.body)
				if sent != "whole" {
					body = &chunks{r: body, n: 256}
				}
				r := httptest.NewRequest(http.MethodPost, "/", body)
				r.ContentLength = int64(len(s.body))
				if sent == "chunked" { // no Content-Length
					r.ContentLength = -1
				}
				r.Header.Set("Content-Type", s.ct)
				w := &discardWriter{h: http.Header{}}
				rec := &statusWriter{ResponseWriter: w}
				h.ServeHTTP(rec, r)
				status = rec.status
			})
			limit := 4*uint64(len(s.body)) + 64<<10
			t.Logf("%-46s %-8s %9d %11d %6.2f %d", s.name, sent, len(s.body), alloc,
				float64(alloc)/float64(len(s.body)), status)
			assert.LessOrEqualf(t, alloc, limit, "%s, %s: %d bytes allocated for a %d-byte body",
				s.name, sent, alloc, len(s.body))
		}
	}
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return len(p), nil
}

// stallingBody delivers its first bytes, then blocks until released; arrived
// is closed when the middleware asks for more than the first bytes.
type stallingBody struct {
	first   []byte
	arrived chan struct{}
	release chan struct{}
}

func (s *stallingBody) Read(p []byte) (int, error) {
	if len(s.first) > 0 {
		n := copy(p, s.first)
		s.first = s.first[n:]
		return n, nil
	}
	select {
	case <-s.arrived:
	default:
		close(s.arrived)
	}
	<-s.release
	return 0, io.ErrUnexpectedEOF
}

// TestAnnouncedLengthDoesNotPreallocate: a client that announces a 1 MiB body,
// sends 16 bytes and stalls holds no more than 64 KiB of the server's memory,
// whatever the Content-Type.
func TestAnnouncedLengthDoesNotPreallocate(t *testing.T) {
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: memVerifier, AllowReplay: true, Logger: quietLogger(),
	})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, ct := range []string{"application/json", "application/x-www-form-urlencoded", "multipart/form-data; boundary=B"} {
		t.Run(ct, func(t *testing.T) {
			body := &stallingBody{first: []byte("0123456789abcdef"), arrived: make(chan struct{}), release: make(chan struct{})}
			r := httptest.NewRequest(http.MethodPost, "/", body)
			r.ContentLength = 1 << 20
			r.Header.Set("Content-Type", ct)
			done := make(chan struct{})
			var before, during runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			go func() {
				defer close(done)
				h.ServeHTTP(httptest.NewRecorder(), r.WithContext(context.Background()))
			}()
			<-body.arrived
			runtime.ReadMemStats(&during)
			close(body.release)
			<-done
			held := during.TotalAlloc - before.TotalAlloc
			require.LessOrEqualf(t, held, uint64(64<<10+16<<10),
				"%d bytes allocated while 16 of 1 MiB announced bytes arrived", held)
		})
	}
}
