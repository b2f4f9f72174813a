package trustcaptcha

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"strings"
	"unicode"
)

// extractToken finds the token in r: the header, then the body by
// Content-Type, never the query. r.Body is left holding the same bytes (a
// multipart body spooled, unparsed); done releases the spool after the next
// handler, and is never nil.
func (m *middleware) extractToken(r *http.Request) (tok string, done func(), err error) {
	done = func() {}
	if tok, err := single(r.Header.Values(m.tokenHeader), "header"); err != nil || tok != "" {
		return tok, done, err
	}
	if r.Body == nil || r.Body == http.NoBody {
		return "", done, fmt.Errorf("%w: no header and no body", ErrTokenMissing)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJSON, multi := mt == "application/json" || strings.HasSuffix(mt, "+json"), mt == "multipart/form-data"
	limit, ce := m.MaxBodyBytes, r.Header.Get("Content-Encoding")
	if multi {
		limit = m.MaxMultipartBytes
	}
	switch {
	case err != nil:
		return "", done, fmt.Errorf("%w: no readable Content-Type", ErrTokenMissing)
	case mt != "application/x-www-form-urlencoded" && !multi && !isJSON:
		return "", done, fmt.Errorf("%w: Content-Type %.60s carries no token", ErrTokenMissing, mt)
	case ce != "" && !strings.EqualFold(ce, "identity"):
		return "", done, fmt.Errorf("%w: Content-Encoding %.20q is not supported", ErrTokenMissing, ce)
	case multi && params["boundary"] == "":
		return "", done, fmt.Errorf("%w: multipart body without boundary", ErrTokenMissing)
	case r.ContentLength > limit:
		return "", done, fmt.Errorf("%w: Content-Length %d over the %d-byte limit", ErrBodyTooLarge, r.ContentLength, limit)
	case multi:
		return m.fromMultipart(r, params["boundary"])
	}
	body, err := readCapped(r.Body, m.MaxBodyBytes, r.ContentLength)
	if err != nil {
		return "", done, bodyError(err, m.MaxBodyBytes)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if isJSON {
		tok, err = m.jsonToken(body)
		return tok, done, err
	}
	tok, err = fieldToken(formValues(body, m.TokenField), "form")
	return tok, done, err
}

// formValues returns the values of field in a urlencoded body as
// url.ParseQuery reads them, without building the whole form.
func formValues(body []byte, field string) []string {
	var vals []string
	for pair := range bytes.SplitSeq(body, []byte("&")) {
		k, v, _ := bytes.Cut(pair, []byte("="))
		if bytes.IndexByte(pair, ';') >= 0 {
			continue
		}
		if string(k) != field {
			if len(k) < len(field) || len(k) > 3*len(field) || !bytes.ContainsAny(k, "%+") {
				continue // cannot unescape to field
			}
			if name, err := url.QueryUnescape(string(k)); err != nil || name != field {
				continue
			}
		}
		if val, err := url.QueryUnescape(string(v)); err == nil {
			vals = append(vals, val)
		}
	}
	return vals
}

// single returns the one token among vals: "" for none, ErrTokenInvalid for two.
func single(vals []string, where string) (string, error) {
	tok := ""
	for _, v := range vals {
		v = strings.TrimSpace(v)
		switch {
		case v == "" || v == tok:
		case tok == "":
			tok = v
		default:
			return "", fmt.Errorf("%w: two different tokens in the %s", ErrTokenInvalid, where)
		}
	}
	return tok, nil
}

// fieldToken is single for a body: no token there is ErrTokenMissing.
func fieldToken(vals []string, where string) (string, error) {
	tok, err := single(vals, where)
	if err == nil && tok == "" {
		err = fmt.Errorf("%w: no token field in the %s", ErrTokenMissing, where)
	}
	return tok, err
}

var errTooLong = errors.New("longer than the limit")

const readChunk = 64 << 10 // the most a read allocates ahead of the bytes that arrived

// readCapped reads r to its end, at most limit bytes (errTooLong past that);
// hint is the announced length, if positive. All untrusted input is read so.
func readCapped(r io.Reader, limit, hint int64) ([]byte, error) {
	chunks, n, err := readUpTo(r, limit, hint)
	switch {
	case err != nil:
		return nil, err
	case n > limit:
		return nil, errTooLong
	case len(chunks) == 1:
		return chunks[0], nil
	}
	return bytes.Join(chunks, nil), nil
}

// readUpTo reads r to its end but at most limit+1 bytes, in chunks, n in
// all. A chunk is at most readChunk bytes (the first is sized by hint), so
// memory follows the bytes that arrive, whatever hint announced.
func readUpTo(r io.Reader, limit, hint int64) (chunks [][]byte, n int64, err error) {
	for n <= limit {
		size := int64(readChunk)
		if hint > n {
			size = min(size, hint-n)
		} else if hint == n && hint > 0 {
			size = 1 // the announced length arrived: look for its end
		}
		c := make([]byte, min(size, limit+1-n))
		k, err := fill(r, c)
		chunks = append(chunks, c[:k])
		n += int64(k)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, 0, err
		}
	}
	return chunks, n, nil
}

// fill reads into c until it is full or r fails; io.EOF means r ended first
// (io.ReadFull would hide a body cut short as io.ErrUnexpectedEOF).
func fill(r io.Reader, c []byte) (int, error) {
	n := 0
	for n < len(c) {
		m, err := r.Read(c[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// chunksAt reads the chunks readUpTo returned as one stream.
type chunksAt [][]byte

func (c chunksAt) ReadAt(p []byte, off int64) (int, error) {
	n := 0
	for _, b := range c {
		if off >= int64(len(b)) {
			off -= int64(len(b))
			continue
		}
		n += copy(p[n:], b[off:])
		off = 0
		if n == len(p) {
			return n, nil
		}
	}
	return n, io.EOF
}

// bodyError names the failure to read a body of at most limit bytes:
// ErrBodyTooLarge (an outer http.MaxBytesReader's too), the spool's own
// trouble (no sentinel: the operator hears of it), or else ErrTokenMissing.
func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	switch {
	case errors.Is(err, errSpool):
		return err
	case errors.As(err, &mbe):
		return fmt.Errorf("%w: over the %d-byte limit of an outer http.MaxBytesReader", ErrBodyTooLarge, mbe.Limit)
	case errors.Is(err, errTooLong):
		return fmt.Errorf("%w: over the %d-byte limit", ErrBodyTooLarge, limit)
	}
	return fmt.Errorf("%w: reading the body failed", ErrTokenMissing)
}

// tokenMembers collects a JSON body's token members (see jsonTokenType):
// members that differ, more than maxTokenMembers, or one longer than any
// token stop the decoding.
type tokenMembers struct {
	first string
	n     int
}

const maxTokenMembers = 16

var (
	errNotString  = errors.New("the token member is not a string")
	errBadMembers = errors.New("token members that differ, or too many, or too long")
)

func (t *tokenMembers) UnmarshalJSON(b []byte) error {
	var v string
	switch {
	case b[0] != '"':
		return errNotString
	case len(b) > MaxTokenLength+2 || t.n == maxTokenMembers: // never decoded
		return errBadMembers
	case json.Unmarshal(b, &v) != nil:
		return errNotString
	case t.n > 0 && v != t.first:
		return errBadMembers
	}
	t.first, t.n = v, t.n+1
	return nil
}

// jsonTokenType is a struct type whose one field is tagged with the token
// field's name, so decoding a body into it finds the token members exactly
// as a handler's own struct would (any letter case, escapes, every
// occurrence). It panics when field cannot be a JSON tag name.
func jsonTokenType(field string) reflect.Type {
	for _, c := range field {
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !strings.ContainsRune("-_.:@$!#%&()*+/;<=>?[]^{|}~ ", c) {
			panic(fmt.Sprintf("trustcaptcha: Options.TokenField %q: a JSON tag cannot hold %q", field, c))
		}
	}
	return reflect.StructOf([]reflect.StructField{{
		Name: "Token", Type: reflect.TypeFor[tokenMembers](), Tag: reflect.StructTag(`json:"` + field + `"`),
	}})
}

// jsonToken returns the top-level string member of a JSON body named like
// the token field: ErrTokenMissing without one, ErrTokenInvalid for two.
func (m *middleware) jsonToken(body []byte) (string, error) {
	v := reflect.New(m.jsonType)
	err := json.Unmarshal(body, v.Interface())
	switch {
	case errors.Is(err, errBadMembers):
		return "", fmt.Errorf("%w: the JSON members %q differ, are too many or too long", ErrTokenInvalid, m.TokenField)
	case errors.Is(err, errNotString):
		return "", fmt.Errorf("%w: the JSON member %q is not a string", ErrTokenMissing, m.TokenField)
	case err != nil || !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")):
		return "", fmt.Errorf("%w: the body is not one valid JSON object", ErrTokenMissing)
	}
	if t := v.Elem().Field(0).Interface().(tokenMembers); t.first != "" {
		return t.first, nil
	}
	return "", fmt.Errorf("%w: no string member %q at the top of the JSON object", ErrTokenMissing, m.TokenField)
}

// fromMultipart spools the body, finds the token among its text fields, and
// leaves r.Body reading the spool from the start, whatever the verdict.
func (m *middleware) fromMultipart(r *http.Request, boundary string) (string, func(), error) {
	noop := func() {}
	body, size, done, err := spool(r.Body, r.ContentLength, m.MaxBodyBytes, m.MaxMultipartBytes)
	if err != nil {
		return "", noop, bodyError(err, m.MaxMultipartBytes)
	}
	tok, err := m.multipartToken(body, size, boundary)
	if _, serr := body.Seek(0, io.SeekStart); serr != nil {
		done()
		return "", noop, fmt.Errorf("%w: rewinding the spooled body: %v", errSpool, serr)
	}
	r.Body = io.NopCloser(body)
	return tok, done, err
}

// Every part and header line of a multipart form costs a few hundred bytes of
// maps and strings to parse; these bound that (measured in cost_test.go).
const (
	maxParts              = 1000     // parts in one form, as net/http
	maxPartHeaders        = 10000    // header lines in all parts, as net/http
	partsAllowancePerByte = 3        // parsing may allocate 3 bytes per body byte…
	partsAllowance        = 48 << 10 // …plus this
	partCost              = 1 << 10  // charged per part
	headerLineCost        = 200      // charged per header line
	headerByteCost        = 48       // the most one byte of part headers costs
	meterRead             = 256      // the most one read hands mime/multipart
)

// meter hands its reader on in small reads and stops at limit, so the
// header lines of one part cannot cost more than the allowance left.
type meter struct {
	r       io.Reader
	n       int64 // bytes handed on
	limit   int64
	stopped bool
}

func (m *meter) Read(p []byte) (int, error) {
	if m.n >= m.limit {
		m.stopped = true
		return 0, errTooLong
	}
	p = p[:min(int64(len(p)), meterRead, m.limit-m.n)]
	n, err := m.r.Read(p)
	m.n += int64(n)
	return n, err
}

// multipartToken returns the token field of the form in body (size bytes),
// or ErrBodyTooLarge for parts that cost more to parse than the bytes allow.
func (m *middleware) multipartToken(body io.Reader, size int64, boundary string) (string, error) {
	src := &meter{r: body, limit: math.MaxInt64}
	mr := multipart.NewReader(src, boundary)
	tooMany := fmt.Errorf("%w: the multipart form has more parts or part headers than its %d bytes allow "+
		"(send the token in the header to protect such a form)", ErrBodyTooLarge, size)
	malformed := fmt.Errorf("%w: malformed multipart form", ErrTokenMissing)
	allowance := partsAllowancePerByte*size + partsAllowance
	var vals []string
	var text, spent, parts, lines int64 // text: bytes of text fields read so far
	for {
		src.limit = src.n + meterRead + max(0, allowance-spent)/headerByteCost
		p, err := mr.NextPart()
		src.limit = math.MaxInt64
		switch {
		case err == io.EOF:
			return fieldToken(vals, "form")
		case src.stopped:
			return "", tooMany
		case err != nil:
			return "", malformed
		}
		n := int64(0)
		for _, v := range p.Header {
			n += int64(len(v))
		}
		parts, lines, spent = parts+1, lines+n, spent+partCost+n*headerLineCost
		if parts > maxParts || lines > maxPartHeaders || spent > allowance {
			return "", tooMany
		}
		switch {
		case p.FormName() == "" || p.FileName() != "": // not a field, or a file
			if _, err = io.Copy(io.Discard, p); err != nil { // here, not in NextPart's metered reads
				return "", malformed
			}
			continue
		case p.FormName() == m.TokenField:
			v, rerr := readCapped(p, m.MaxBodyBytes-text, 0)
			n, err = int64(len(v)), rerr
			vals = append(vals, string(v))
		default:
			n, err = io.Copy(io.Discard, io.LimitReader(p, m.MaxBodyBytes-text+1))
		}
		text += n
		switch {
		case errors.Is(err, errTooLong) || text > m.MaxBodyBytes:
			return "", fmt.Errorf("%w: multipart text fields over the %d-byte limit", ErrBodyTooLarge, m.MaxBodyBytes)
		case err != nil:
			return "", malformed
		}
	}
}

// errSpool marks a failure to spool a body to disk: the server's trouble.
var errSpool = errors.New("trustcaptcha: spooling the request body to a temporary file failed")

// spool reads src whole, at most limit bytes (errTooLong past that), in
// memory up to memLimit bytes and in a temporary file beyond; announced is
// the Content-Length. done removes the file; it is never nil.
func spool(src io.Reader, announced, memLimit, limit int64) (body io.ReadSeeker, size int64, done func(), err error) {
	done = func() {}
	var head [][]byte
	if announced <= memLimit { // unknown or small: memory first
		var n int64
		if head, n, err = readUpTo(src, memLimit, announced); err != nil {
			return nil, 0, done, err
		}
		if n <= memLimit {
			return io.NewSectionReader(chunksAt(head), 0, n), n, done, nil
		}
	}
	f, err := os.CreateTemp("", "trustcaptcha-body-*")
	if err != nil {
		return nil, 0, done, fmt.Errorf("%w: %v", errSpool, err)
	}
	done = func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	held := io.NewSectionReader(chunksAt(head), 0, limit+1)
	n, err := io.Copy(f, io.LimitReader(io.MultiReader(held, src), limit+1))
	if err == nil && n > limit {
		err = errTooLong
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) { // the file, not the client, failed
		err = fmt.Errorf("%w: %v", errSpool, err)
	}
	if err != nil {
		done()
		return nil, 0, func() {}, err
	}
	return f, n, done, nil
}
