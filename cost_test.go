package trustcaptcha_test

// The cost of reading a request, whatever its shape: memory allocated while
// the middleware reads a body stays within 4 x the bytes received + 64 KiB
// (DESIGN.md, "Bounded cost of a request").

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
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

func repeatBody(prefix, unit, suffix string, size int) []byte {
	n := max(0, (size-len(prefix)-len(suffix))/len(unit))
	return []byte(prefix + strings.Repeat(unit, n) + suffix)
}

// multipartShape is a multipart body of parts made of unit (headers, blank
// line and content), repeated to about size bytes (at least once), with the
// token field last.
func multipartShape(unit string, size int) []byte {
	last := "--B\r\nContent-Disposition: form-data; name=\"tc-verification-token\"\r\n\r\n" + tokHuman + "\r\n--B--\r\n"
	unit = "--B\r\n" + unit + "\r\n"
	return repeatBody("", unit, last, max(size, len(unit)+len(last)))
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

// TestRequestCostIsBoundedByBodySize sends every shape whole and trickled
// (256-byte reads) through the middleware and checks the memory allocated
// while it runs: at most 4 x the body + 64 KiB. The verifier answers at once
// and the handler does nothing, so what is measured is reading the body.
// Not parallel: it reads the process's allocation counters.
func TestRequestCostIsBoundedByBodySize(t *testing.T) {
	skipUnderRace(t)
	t.Setenv("TMPDIR", t.TempDir())
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: memVerifier, AllowReplay: true, Logger: quietLogger(),
		MaxMultipartBytes: 8 << 20,
	})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	t.Logf("%-46s %-8s %9s %11s %6s %s", "shape", "sent", "body", "allocated", "ratio", "status")
	for _, s := range costShapes() {
		for _, trickle := range []bool{false, true} {
			sent := map[bool]string{false: "whole", true: "trickled"}[trickle]
			status := 0
			alloc := allocated(func() {
				var body io.Reader = bytes.NewReader(s.body)
				if trickle {
					body = &chunks{r: body, n: 256}
				}
				r := httptest.NewRequest(http.MethodPost, "/", body)
				r.ContentLength = int64(len(s.body))
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

// skipUnderRace skips a test that measures allocations when the race
// detector, which changes them, is on. .ci/run runs these tests without it.
func skipUnderRace(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation figures are measured without -race (.ci/run runs this test so)")
	}
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
	skipUnderRace(t)
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
		{"40 short fields", partsForm(40, "some value", 0), http.StatusNoContent},
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
