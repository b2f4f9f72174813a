package trustcaptcha_test

// Hostile requests sent raw over TCP to a real server: every one gets a
// clear 400, 413 or 431, the protected handler never runs, nothing leaks and
// no temporary file is left behind.

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

	"github.com/captchakit/trustcaptcha"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// hostile is one raw request: head (request line and headers, without the
// blank line), then the body parts written one after another, then large
// more bytes of '0' as chunks; stall leaves the connection open without
// finishing the body.
type hostile struct {
	head  string
	body  []string
	large int64
	stall bool
}

// hostileCase is one attack and the answers that repel it: 400 or 413 from
// the middleware, or 400/431 from net/http itself for what never reaches a
// handler.
type hostileCase struct {
	name string
	want []int
	req  hostile
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

func hostileCases() []hostileCase {
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
	two := func(key string) hostile { // key names the unknown token; the right spelling carries a human's
		return withLen(post("application/json"), `{"`+key+`":"`+unknownTok+`","tc-verification-token":"`+tokHuman+`"}`)
	}
	longS := withLen(
		strings.Replace(post("application/json"), "POST /contact", "POST /session", 1), // TokenField tc-session-token
		`{"tc-ſession-token":"`+unknownTok+`","tc-session-token":"`+tokHuman+`"}`,
	)
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
	return []hostileCase{
		{"body without Content-Type", bad, withLen(post(""), "tc-verification-token="+url.QueryEscape(unknownTok))},
		{"text/plain body", bad, withLen(post("text/plain"), unknownTok)},
		{"unparsable Content-Type", bad, withLen(post(";;;=="), "{}")},
		{"JSON in UTF-16", bad, withLen(post("application/json; charset=utf-16"), "\xff\xfe{\x00}\x00")},
		{"JSON with a byte-order mark", bad, withLen(post("application/json"), "\xef\xbb\xbf{\"tc-verification-token\":\""+unknownTok+"\"}")},
		{"multipart without boundary", bad, withLen(post("multipart/form-data"), mpart("XYZ", "tc-verification-token", unknownTok))},
		{"multipart with a boundary the body does not use", bad, withLen(post("multipart/form-data; boundary=ABC"), mpart("XYZ", "tc-verification-token", unknownTok))},
		{"multipart with an over-long boundary", bad, withLen(
			post("multipart/form-data; boundary="+strings.Repeat("b", 200)),
			mpart(strings.Repeat("b", 200), "tc-verification-token", unknownTok),
		)},
		{"multipart with 2,000 parts", either, withLen(post("multipart/form-data; boundary=B"), mpart("B", manyParts...))},
		{"multipart with two different tokens", bad, withLen(
			post("multipart/form-data; boundary=B"),
			mpart("B", "tc-verification-token", unknownTok, "tc-verification-token", tokHuman),
		)},
		{"multipart with a huge part header", either, withLen(
			post("multipart/form-data; boundary=B"),
			"--B\r\nContent-Disposition: form-data; name=\"x\"\r\nX-Junk: "+strings.Repeat("j", 200<<10)+"\r\n\r\nv\r\n--B--\r\n",
		)},
		{"multipart/mixed", bad, withLen(post("multipart/mixed; boundary=B"), mpart("B", "tc-verification-token", tokHuman))},
		{"form with a 1 MiB token", either, withLen(post("application/x-www-form-urlencoded"), "tc-verification-token="+hugeToken)},
		{"header with a 100 KiB token", bad, withLen(post("", "X-TC-Verification-Token: "+hugeToken[:100<<10]), "")},
		{"form token with invalid UTF-8", bad, withLen(post("application/x-www-form-urlencoded"), "tc-verification-token=%ff%fe"+unknownTok[4:])},
		{"JSON token with escaped NUL bytes", bad, withLen(post("application/json"), `{"tc-verification-token":"\u0000`+unknownTok+`\u0000"}`)},
		{"JSON with raw NUL bytes", bad, withLen(post("application/json"), "{\"tc-verification-token\":\"\x00"+unknownTok+"\"}")},
		{"JSON with duplicate keys", bad, withLen(
			post("application/json"),
			`{"tc-verification-token":"`+unknownTok+`","tc-verification-token":"`+tokHuman+`"}`,
		)},
		{"JSON nested 100,000 deep", bad, withLen(post("application/json"), `{"a":`+deep+`,"tc-verification-token":"`+tokHuman+`"}`)},
		{"JSON token nested in an object", bad, withLen(post("application/json"), `{"tc-verification-token":{"tc-verification-token":"`+tokHuman+`"}}`)},
		{"JSON with a huge number", bad, withLen(post("application/json"), `{"n":1`+strings.Repeat("0", 100000)+`e99999999}`)},
		{"JSON null", bad, withLen(post("application/json"), `null`)},
		{"JSON string", bad, withLen(post("application/json"), `"`+tokHuman+`"`)},
		{"JSON empty token", bad, withLen(post("application/json"), `{"tc-verification-token":""}`)},
		{"100 MB JSON without Content-Length (chunked)", tooBig, hostile{head: post("application/json", "Transfer-Encoding: chunked"), large: 100 << 20}},
		{"Content-Length of 100 MB announced", tooBig, hostile{head: post("application/json", "Content-Length: 104857600"), body: []string{`{"a":"`}, stall: true}},
		{"Expect 100-continue with 100 MB announced", tooBig, hostile{head: post("application/json", "Content-Length: 104857600", "Expect: 100-continue"), stall: true}},
		{"Content-Length longer than the body, then a stall", bad, hostile{
			head:  post("application/json", "Content-Length: 500"),
			body:  []string{`{"tc-verification-token":"` + tokHuman},
			stall: true,
		}},
		{"chunked body that stalls", bad, hostile{
			head:  post("application/json", "Transfer-Encoding: chunked"),
			body:  []string{"10\r\n{\"tc-verificatio"},
			stall: true,
		}},
		{"chunked JSON with an unknown verification", bad, hostile{head: post("application/json", "Transfer-Encoding: chunked"),
			body: []string{chunked(`{"tc-verification-token":`, `"`+unknownTok+`"}`)}}},
		{"malformed chunk sizes", bad, hostile{head: post("application/json", "Transfer-Encoding: chunked"), body: []string{"zz\r\n{}\r\n0\r\n\r\n"}}},
		{"gzip Content-Encoding", bad, withLen(post("application/json", "Content-Encoding: gzip"), gz(`{"tc-verification-token":"`+tokHuman+`"}`))},
		{"br Content-Encoding on a form", bad, withLen(
			post("application/x-www-form-urlencoded", "Content-Encoding: br"),
			"tc-verification-token="+url.QueryEscape(tokHuman),
		)},
		{"token in the query string only", bad, withLen("POST /contact?tc-verification-token="+url.QueryEscape(tokHuman)+" HTTP/1.1\r\nHost: x\r\n", "")},
		{"GET without body", bad, hostile{head: "GET /contact HTTP/1.1\r\nHost: x\r\n"}},
		{"HEAD", bad, hostile{head: "HEAD /contact HTTP/1.1\r\nHost: x\r\n"}},
		{"DELETE without body", bad, hostile{head: "DELETE /contact HTTP/1.1\r\nHost: x\r\n"}},
		{"OPTIONS", bad, hostile{head: "OPTIONS /contact HTTP/1.1\r\nHost: x\r\n"}},
		{"PUT form without token", bad, withLen("PUT /contact HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n", "name=Ada")},
		{"60 KiB junk header", bad, withLen(post("application/x-www-form-urlencoded", "X-Junk: "+strings.Repeat("j", 60<<10)), "name=Ada")},
		{"500 headers", []int{400, 431}, withLen(
			post("application/x-www-form-urlencoded", strings.TrimSuffix(manyHeaders.String(), "\r\n")),
			"name=Ada",
		)}, // Go 1.27 answers 431 itself, before any handler
		{"two different token headers", bad, withLen(post("", "X-TC-Verification-Token: "+unknownTok, "X-TC-Verification-Token: "+tokHuman), "")},
		{"blank token header and no body", bad, withLen(post("", "X-TC-Verification-Token:    "), "")},
		{"urlencoded with a bad escape", bad, withLen(post("application/x-www-form-urlencoded"), "tc-verification-token=%zz"+tokHuman)},
		{"urlencoded with 20,000 fields", bad, withLen(post("application/x-www-form-urlencoded"), manyFields)},
		{"urlencoded token with a raw plus", bad, withLen(post("application/x-www-form-urlencoded"), "tc-verification-token=ab+cd==")},
		{"urlencoded in UTF-16", bad, withLen(post("application/x-www-form-urlencoded; charset=utf-16"), "t\x00=\x00")},
		{"Content-Length and chunked together (smuggling)", bad, hostile{
			head: post("application/json", "Content-Length: 4", "Transfer-Encoding: chunked"),
			body: []string{chunked(`{"tc-verification-token":"` + unknownTok + `"}`)},
		}},
		{"header token of a path traversal ID", bad, withLen(post("", "X-TC-Verification-Token: eyJ2ZXJpZmljYXRpb25JZCI6Ii4uLy4uL2FkbWluIn0="), "")},
		{"token naming another API host", bad, withLen(
			post(
				"",
				"X-TC-Verification-Token: eyJ2ZXJpZmljYXRpb25JZCI6ImJhZCIsImFwaUVuZHBvaW50IjoiaHR0cDovLzEyNy4wLjAuMTo5In0=",
			),
			"",
		)},
		{"JSON token key in upper case beside a second token", bad, two("TC-VERIFICATION-TOKEN")},
		{"JSON token key in mixed case beside a second token", bad, two("Tc-Verification-ToKen")},
		{"JSON token key with the Kelvin sign beside a second token", bad, two("tc-verification-to\u212aen")},
		{"JSON token key with an escaped Kelvin sign beside a second token", bad, two(`tc-verification-to\u212Aen`)},
		{"JSON token key with the long s beside a second token", bad, longS},
		{"JSON token key escaped beside a second token", bad, two(`tc\u002dverification\u002dtoken`)},
		{"multipart with a 3 MiB file and no token", bad, bigUpload("")},
		{"multipart with a 3 MiB file and an unknown verification", bad, bigUpload(unknownTok)},
		{"multipart with a 5 MiB text field", tooBig, withLen(post("multipart/form-data; boundary=B"),
			mpart("B", "tc-verification-token", tokHuman, "message", strings.Repeat("m", 5<<20)))},
		// On a route whose MaxMultipartBytes is 2 MiB: the default 32 MiB takes
		// longer than the server's 500 ms ReadTimeout to arrive on a loaded
		// machine, which then cuts the upload off (request-canceled) first.
		{"multipart over MaxMultipartBytes, chunked", tooBig, hostile{head: strings.Replace(
			post("multipart/form-data; boundary=B", "Transfer-Encoding: chunked"), "POST /contact ", "POST /small ", 1),
			large: 4 << 20}},
	}
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

	for _, tc := range hostileCases() {
		t.Run(tc.name, func(t *testing.T) {
			before := ran.Load()
			resp := tc.req.send(t, addr)
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
