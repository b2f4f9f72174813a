package trustcaptcha_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/captchakit/trustcaptcha"
)

// hostile is one raw request: head (request line and headers, without the
// blank line), then body parts written one after another with pause between
// them. stall leaves the connection open without finishing the body.
type hostile struct {
	name  string
	head  string
	body  []string
	large int64 // then this many more bytes of '0'
	stall bool
	// want lists the acceptable statuses: 400 or 413 from us, or 400/431
	// from net/http itself for what never reaches a handler.
	want []int
}

const unknownTok = "eyJ2ZXJpZmljYXRpb25JZCI6IjNmMmI4YzRlLTlkMWEtNGI2Yy04ZTdmLTExMjIzMzQ0NTU2NiJ9" // a well-formed token of an unknown verification

func post(ct string, extra ...string) string {
	h := "POST /contact HTTP/1.1\r\nHost: shop.example\r\n"
	if ct != "" {
		h += "Content-Type: " + ct + "\r\n"
	}
	for _, e := range extra {
		h += e + "\r\n"
	}
	return h
}

func withLen(head, body string) hostile {
	return hostile{head: head + fmt.Sprintf("Content-Length: %d\r\n", len(body)), body: []string{body}}
}

func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	_, _ = io.WriteString(w, s)
	_ = w.Close()
	return b.String()
}

func mpart(boundary string, parts ...string) string {
	var b strings.Builder
	for i := 0; i+1 < len(parts); i += 2 {
		fmt.Fprintf(&b, "--%s\r\nContent-Disposition: form-data; name=%q\r\n\r\n%s\r\n", boundary, parts[i], parts[i+1])
	}
	fmt.Fprintf(&b, "--%s--\r\n", boundary)
	return b.String()
}

func chunked(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

func hostileCatalog() []hostile {
	form := func(s string) string { return s }
	bad, tooBig, either := []int{400}, []int{413}, []int{400, 413}
	manyParts := make([]string, 0, 4000)
	for i := range 2000 {
		manyParts = append(manyParts, fmt.Sprintf("f%d", i), "x")
	}
	manyFields := strings.Repeat("a=b&", 20000) + "c=d"
	hugeToken := strings.Repeat("A", 1<<20)
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	var manyHeaders strings.Builder
	for i := range 500 {
		fmt.Fprintf(&manyHeaders, "X-H%d: v\r\n", i)
	}
	c := []hostile{
		{name: "body without Content-Type", want: bad},
		{name: "text/plain body", want: bad},
		{name: "unparsable Content-Type", want: bad},
		{name: "JSON in UTF-16", want: bad},
		{name: "JSON with a byte-order mark", want: bad},
		{name: "multipart without boundary", want: bad},
		{name: "multipart with a boundary the body does not use", want: bad},
		{name: "multipart with an over-long boundary", want: bad},
		{name: "multipart with 2,000 parts", want: either},
		{name: "multipart with two different tokens", want: bad},
		{name: "multipart with a huge part header", want: either},
		{name: "multipart/mixed", want: bad},
		{name: "form with a 1 MiB token", want: either},
		{name: "header with a 100 KiB token", want: bad},
		{name: "form token with invalid UTF-8", want: bad},
		{name: "JSON token with escaped NUL bytes", want: bad},
		{name: "JSON with raw NUL bytes", want: bad},
		{name: "JSON with duplicate keys", want: bad},
		{name: "JSON nested 100,000 deep", want: bad},
		{name: "JSON token nested in an object", want: bad},
		{name: "JSON with a huge number", want: bad},
		{name: "JSON null", want: bad},
		{name: "JSON string", want: bad},
		{name: "JSON empty token", want: bad},
		{name: "100 MB JSON without Content-Length (chunked)", want: tooBig},
		{name: "Content-Length of 100 MB announced", want: tooBig},
		{name: "Expect 100-continue with 100 MB announced", want: tooBig},
		{name: "Content-Length longer than the body, then a stall", want: bad},
		{name: "chunked body that stalls", want: bad},
		{name: "chunked JSON with an unknown verification", want: bad},
		{name: "malformed chunk sizes", want: bad},
		{name: "gzip Content-Encoding", want: bad},
		{name: "br Content-Encoding on a form", want: bad},
		{name: "token in the query string only", want: bad},
		{name: "GET without body", want: bad},
		{name: "HEAD", want: bad},
		{name: "DELETE without body", want: bad},
		{name: "OPTIONS", want: bad},
		{name: "PUT form without token", want: bad},
		{name: "60 KiB junk header", want: bad},
		{name: "500 headers", want: []int{400, 431}}, // Go 1.27 answers 431 itself, before any handler
		{name: "two different token headers", want: bad},
		{name: "blank token header and no body", want: bad},
		{name: "urlencoded with a bad escape", want: bad},
		{name: "urlencoded with 20,000 fields", want: bad},
		{name: "urlencoded token with a raw plus", want: bad},
		{name: "urlencoded in UTF-16", want: bad},
		{name: "Content-Length and chunked together (smuggling)", want: bad},
		{name: "header token of a path traversal ID", want: bad},
		{name: "token naming another API host", want: bad},
		{name: "JSON token key in upper case beside a second token", want: bad},
		{name: "JSON token key in mixed case beside a second token", want: bad},
		{name: "JSON token key with the Kelvin sign beside a second token", want: bad},
		{name: "JSON token key with an escaped Kelvin sign beside a second token", want: bad},
		{name: "JSON token key with the long s beside a second token", want: bad},
		{name: "JSON token key escaped beside a second token", want: bad},
		{name: "multipart with a 3 MiB file and no token", want: bad},
		{name: "multipart with a 3 MiB file and an unknown verification", want: bad},
		{name: "multipart with a 5 MiB text field", want: tooBig},
		{name: "multipart over MaxMultipartBytes, chunked", want: tooBig},
	}
	set := func(name string, h hostile) {
		for i := range c {
			if c[i].name == name {
				h.name, h.want = c[i].name, c[i].want
				c[i] = h
				return
			}
		}
		panic("no case " + name)
	}
	set("body without Content-Type", withLen(post(""), form("tc-verification-token="+url.QueryEscape(unknownTok))))
	set("text/plain body", withLen(post("text/plain"), unknownTok))
	set("unparsable Content-Type", withLen(post(";;;=="), "{}"))
	set("JSON in UTF-16", withLen(post("application/json; charset=utf-16"), "\xff\xfe{\x00}\x00"))
	set(
		"JSON with a byte-order mark",
		withLen(post("application/json"), "\xef\xbb\xbf{\"tc-verification-token\":\""+unknownTok+"\"}"),
	)
	set(
		"multipart without boundary",
		withLen(post("multipart/form-data"), mpart("XYZ", "tc-verification-token", unknownTok)),
	)
	set(
		"multipart with a boundary the body does not use",
		withLen(post("multipart/form-data; boundary=ABC"), mpart("XYZ", "tc-verification-token", unknownTok)),
	)
	set(
		"multipart with an over-long boundary",
		withLen(
			post("multipart/form-data; boundary="+strings.Repeat("b", 200)),
			mpart(strings.Repeat("b", 200), "tc-verification-token", unknownTok),
		),
	)
	set("multipart with 2,000 parts", withLen(post("multipart/form-data; boundary=B"), mpart("B", manyParts...)))
	set(
		"multipart with two different tokens",
		withLen(
			post("multipart/form-data; boundary=B"),
			mpart("B", "tc-verification-token", unknownTok, "tc-verification-token", tokHuman),
		),
	)
	set("multipart with a huge part header", withLen(
		post("multipart/form-data; boundary=B"),
		"--B\r\nContent-Disposition: form-data; name=\"x\"\r\nX-Junk: "+strings.Repeat(
			"j",
			200<<10,
		)+"\r\n\r\nv\r\n--B--\r\n",
	))
	set("multipart/mixed", withLen(post("multipart/mixed; boundary=B"), mpart("B", "tc-verification-token", tokHuman)))
	set(
		"form with a 1 MiB token",
		withLen(post("application/x-www-form-urlencoded"), "tc-verification-token="+hugeToken),
	)
	set("header with a 100 KiB token", withLen(post("", "X-TC-Verification-Token: "+hugeToken[:100<<10]), ""))
	set(
		"form token with invalid UTF-8",
		withLen(post("application/x-www-form-urlencoded"), "tc-verification-token=%ff%fe"+unknownTok[4:]),
	)
	set(
		"JSON token with escaped NUL bytes",
		withLen(post("application/json"), `{"tc-verification-token":"\u0000`+unknownTok+`\u0000"}`),
	)
	set(
		"JSON with raw NUL bytes",
		withLen(post("application/json"), "{\"tc-verification-token\":\"\x00"+unknownTok+"\"}"),
	)
	set(
		"JSON with duplicate keys",
		withLen(
			post("application/json"),
			`{"tc-verification-token":"`+unknownTok+`","tc-verification-token":"`+tokHuman+`"}`,
		),
	)
	set(
		"JSON nested 100,000 deep",
		withLen(post("application/json"), `{"a":`+deep+`,"tc-verification-token":"`+tokHuman+`"}`),
	)
	set(
		"JSON token nested in an object",
		withLen(post("application/json"), `{"tc-verification-token":{"tc-verification-token":"`+tokHuman+`"}}`),
	)
	set("JSON with a huge number", withLen(post("application/json"), `{"n":1`+strings.Repeat("0", 100000)+`e99999999}`))
	set("JSON null", withLen(post("application/json"), `null`))
	set("JSON string", withLen(post("application/json"), `"`+tokHuman+`"`))
	set("JSON empty token", withLen(post("application/json"), `{"tc-verification-token":""}`))
	set(
		"100 MB JSON without Content-Length (chunked)",
		hostile{head: post("application/json", "Transfer-Encoding: chunked"), large: 100 << 20},
	)
	set(
		"Content-Length of 100 MB announced",
		hostile{head: post("application/json", "Content-Length: 104857600"), body: []string{`{"a":"`}, stall: true},
	)
	set(
		"Expect 100-continue with 100 MB announced",
		hostile{head: post("application/json", "Content-Length: 104857600", "Expect: 100-continue"), stall: true},
	)
	set(
		"Content-Length longer than the body, then a stall",
		hostile{
			head:  post("application/json", "Content-Length: 500"),
			body:  []string{`{"tc-verification-token":"` + tokHuman},
			stall: true,
		},
	)
	set(
		"chunked body that stalls",
		hostile{
			head:  post("application/json", "Transfer-Encoding: chunked"),
			body:  []string{"10\r\n{\"tc-verificatio"},
			stall: true,
		},
	)
	set(
		"chunked JSON with an unknown verification",
		hostile{head: post("application/json", "Transfer-Encoding: chunked"),
			body: []string{chunked(`{"tc-verification-token":`, `"`+unknownTok+`"}`)}},
	)
	set(
		"malformed chunk sizes",
		hostile{head: post("application/json", "Transfer-Encoding: chunked"), body: []string{"zz\r\n{}\r\n0\r\n\r\n"}},
	)
	set(
		"gzip Content-Encoding",
		withLen(post("application/json", "Content-Encoding: gzip"), gz(`{"tc-verification-token":"`+tokHuman+`"}`)),
	)
	set(
		"br Content-Encoding on a form",
		withLen(
			post("application/x-www-form-urlencoded", "Content-Encoding: br"),
			"tc-verification-token="+url.QueryEscape(tokHuman),
		),
	)
	set(
		"token in the query string only",
		withLen("POST /contact?tc-verification-token="+url.QueryEscape(tokHuman)+" HTTP/1.1\r\nHost: x\r\n", ""),
	)
	set("GET without body", hostile{head: "GET /contact HTTP/1.1\r\nHost: x\r\n"})
	set("HEAD", hostile{head: "HEAD /contact HTTP/1.1\r\nHost: x\r\n"})
	set("DELETE without body", hostile{head: "DELETE /contact HTTP/1.1\r\nHost: x\r\n"})
	set("OPTIONS", hostile{head: "OPTIONS /contact HTTP/1.1\r\nHost: x\r\n"})
	set(
		"PUT form without token",
		withLen("PUT /contact HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n", "name=Ada"),
	)
	set(
		"60 KiB junk header",
		withLen(post("application/x-www-form-urlencoded", "X-Junk: "+strings.Repeat("j", 60<<10)), "name=Ada"),
	)
	set(
		"500 headers",
		withLen(
			post("application/x-www-form-urlencoded", strings.TrimSuffix(manyHeaders.String(), "\r\n")),
			"name=Ada",
		),
	)
	set(
		"two different token headers",
		withLen(post("", "X-TC-Verification-Token: "+unknownTok, "X-TC-Verification-Token: "+tokHuman), ""),
	)
	set("blank token header and no body", withLen(post("", "X-TC-Verification-Token:    "), ""))
	set(
		"urlencoded with a bad escape",
		withLen(post("application/x-www-form-urlencoded"), "tc-verification-token=%zz"+tokHuman),
	)
	set("urlencoded with 20,000 fields", withLen(post("application/x-www-form-urlencoded"), manyFields))
	set(
		"urlencoded token with a raw plus",
		withLen(post("application/x-www-form-urlencoded"), "tc-verification-token=ab+cd=="),
	)
	set("urlencoded in UTF-16", withLen(post("application/x-www-form-urlencoded; charset=utf-16"), "t\x00=\x00"))
	set(
		"Content-Length and chunked together (smuggling)",
		hostile{
			head: post("application/json", "Content-Length: 4", "Transfer-Encoding: chunked"),
			body: []string{chunked(`{"tc-verification-token":"` + unknownTok + `"}`)},
		},
	)
	set(
		"header token of a path traversal ID",
		withLen(post("", "X-TC-Verification-Token: eyJ2ZXJpZmljYXRpb25JZCI6Ii4uLy4uL2FkbWluIn0="), ""),
	)
	set(
		"token naming another API host",
		withLen(
			post(
				"",
				"X-TC-Verification-Token: eyJ2ZXJpZmljYXRpb25JZCI6ImJhZCIsImFwaUVuZHBvaW50IjoiaHR0cDovLzEyNy4wLjAuMTo5In0=",
			),
			"",
		),
	)
	two := func(key string) hostile { // key names the unknown token; the right spelling carries a human's
		return withLen(post("application/json"), `{"`+key+`":"`+unknownTok+`","tc-verification-token":"`+tokHuman+`"}`)
	}
	set("JSON token key in upper case beside a second token", two("TC-VERIFICATION-TOKEN"))
	set("JSON token key in mixed case beside a second token", two("Tc-Verification-ToKen"))
	set("JSON token key with the Kelvin sign beside a second token", two("tc-verification-to\u212aen"))
	set("JSON token key with an escaped Kelvin sign beside a second token", two(`tc-verification-to\u212Aen`))
	set("JSON token key escaped beside a second token", two(`tc\u002dverification\u002dtoken`))
	longS := withLen(
		strings.Replace(post("application/json"), "POST /contact", "POST /session", 1), // TokenField tc-session-token
		`{"tc-ſession-token":"`+unknownTok+`","tc-session-token":"`+tokHuman+`"}`,
	)
	set("JSON token key with the long s beside a second token", longS)
	bigUpload := func(token string) hostile {
		parts := []string{"name", "Ada"}
		if token != "" {
			parts = append(parts, "tc-verification-token", token)
		}
		return withLen(post("multipart/form-data; boundary=B"),
			strings.TrimSuffix(mpart("B", parts...), "--B--\r\n")+
				"--B\r\nContent-Disposition: form-data; name=\"f\"; filename=\"f.bin\"\r\n\r\n"+
				strings.Repeat("0", 3<<20)+"\r\n--B--\r\n")
	}
	set("multipart with a 3 MiB file and no token", bigUpload(""))
	set("multipart with a 3 MiB file and an unknown verification", bigUpload(unknownTok))
	set("multipart with a 5 MiB text field", withLen(post("multipart/form-data; boundary=B"),
		mpart("B", "tc-verification-token", tokHuman, "message", strings.Repeat("m", 5<<20))))
	// On a route whose MaxMultipartBytes is 2 MiB: the default 32 MiB takes
	// longer than the server's 500 ms ReadTimeout to arrive on a loaded
	// machine, which then cuts the upload off (request-canceled) first.
	set("multipart over MaxMultipartBytes, chunked", hostile{head: strings.Replace(
		post("multipart/form-data; boundary=B", "Transfer-Encoding: chunked"), "POST /contact ", "POST /small ", 1),
		large: 4 << 20})
	return c
}

// send writes h to addr and reads the response.
func (h hostile) send(t *testing.T, addr string) *http.Response {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
	go func() { // write while the server answers; errors mean the server stopped reading
		if _, err := io.WriteString(conn, h.head+"\r\n"); err != nil {
			return
		}
		for _, b := range h.body {
			if _, err := io.WriteString(conn, b); err != nil {
				return
			}
		}
		if h.large > 0 {
			chunk := fmt.Sprintf("%x\r\n%s\r\n", 32<<10, strings.Repeat("0", 32<<10))
			for n := int64(0); n < h.large; n += 32 << 10 {
				if _, err := io.WriteString(conn, chunk); err != nil {
					return
				}
			}
			_, _ = io.WriteString(conn, "0\r\n\r\n")
		}
	}()
	method, _, _ := strings.Cut(h.head, " ")
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: method})
	require.NoError(t, err, "no response")
	return resp
}

// Not parallel: it owns $TMPDIR, to see that no request leaves a file behind.
func TestHostileRequests(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	v := &stub{}
	var ran atomic.Int64
	protected := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	mux := http.NewServeMux()
	mux.Handle("/", trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: v, Logger: quietLogger()})(protected))
	mux.Handle("/small", trustcaptcha.RequireCaptcha(
		trustcaptcha.Options{Verifier: v, Logger: quietLogger(), MaxMultipartBytes: 2 << 20})(protected))
	mux.Handle("/session", trustcaptcha.RequireCaptcha(
		trustcaptcha.Options{Verifier: v, Logger: quietLogger(), TokenField: "tc-session-token"})(protected))
	srv := httptest.NewUnstartedServer(mux)
	srv.Config.ReadTimeout = 500 * time.Millisecond // cuts off stalled bodies
	srv.Config.ErrorLog = nil
	srv.Start()
	addr := srv.Listener.Addr().String()

	catalog := hostileCatalog()
	require.GreaterOrEqual(t, len(catalog), 40)
	for _, tc := range catalog {
		t.Run(tc.name, func(t *testing.T) {
			require.NotEmpty(t, tc.head, "case without a request")
			before := ran.Load()
			resp := tc.send(t, addr)
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			assert.Contains(t, tc.want, resp.StatusCode, "body: %.200s", body)
			assert.Equal(t, before, ran.Load(), "the protected handler ran")
			for _, secret := range []string{tokHuman, unknownTok, "trustcaptcha:", "goroutine", "panic"} {
				assert.NotContains(t, string(body), secret, "the response leaks %q", secret)
			}
			left, err := os.ReadDir(tmp)
			require.NoError(t, err)
			assert.Empty(t, left, "a temporary file outlived the request")
		})
	}
	srv.Close()
}
