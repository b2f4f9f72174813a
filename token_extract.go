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

// extractToken finds the verification token in r: the header first, then the
// body by Content-Type (urlencoded form, multipart form, JSON). Never the
// query string. The next handler sees the request it would have seen without
// us: r.Body holds the same bytes (the handler's ParseForm reads them as
// usual); a multipart body is
// spooled (memory up to maxBody, beyond that one temporary file) and left
// unparsed, so the handler's own ParseMultipartForm, FormValue or
// MultipartReader work as they would. done releases the spool; the caller
// runs it when the next handler has returned. It is never nil.
func (m *middleware) extractToken(r *http.Request) (tok string, done func(), err error) {
	done = func() {}
	if vals := r.Header.Values(m.tokenHeader); len(vals) > 0 {
		tok, err := single(vals, "header")
		if err != nil || tok != "" {
			return tok, done, err
		}
	}
	if r.Body == nil || r.Body == http.NoBody {
		return "", done, fmt.Errorf("%w: no header and no body", ErrTokenMissing)
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", done, fmt.Errorf("%w: body without Content-Type", ErrTokenMissing)
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", done, fmt.Errorf("%w: unreadable Content-Type", ErrTokenMissing)
	}
	isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	if mt != "application/x-www-form-urlencoded" && mt != "multipart/form-data" && !isJSON {
		return "", done, fmt.Errorf("%w: Content-Type %.60s carries no token", ErrTokenMissing, mt)
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return "", done, fmt.Errorf("%w: Content-Encoding %.20q is not supported", ErrTokenMissing, ce)
	}
	if mt == "multipart/form-data" {
		return m.fromMultipart(r, params["boundary"])
	}
	body, err := readBody(r, m.maxBody)
	if err != nil {
		return "", done, err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if isJSON {
		tok, err = m.jsonToken(body)
		return tok, done, err
	}
	tok, err = fieldToken(formValues(body, m.tokenField), "form")
	return tok, done, err
}

// formValues returns the values of field in a urlencoded body, read as
// url.ParseQuery reads it (a pair with a semicolon, or whose name or value
// does not unescape, is skipped) but without building the whole form: only
// names that are escaped cost an allocation. The handler's own ParseForm
// reads r.Body again.
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

// single returns the one token among vals (all equal after trimming), "" if
// they are all empty, and ErrTokenInvalid if they disagree.
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

func fieldToken(vals []string, where string) (string, error) {
	tok, err := single(vals, where)
	if err == nil && tok == "" {
		err = fmt.Errorf("%w: no token field in the %s", ErrTokenMissing, where)
	}
	return tok, err
}

// errTooLong is readCapped's error for input longer than its limit.
var errTooLong = errors.New("longer than the limit")

// readChunk is the most readCapped allocates ahead of the bytes that arrived.
const readChunk = 64 << 10

// readCapped reads r to its end, at most limit bytes: errTooLong past that.
// hint, when positive, is the announced length (a Content-Length). Every
// read of untrusted input in this package goes through it.
func readCapped(r io.Reader, limit, hint int64) ([]byte, error) {
	chunks, n, err := readUpTo(r, limit, hint)
	if err == nil && n > limit {
		err = errTooLong
	}
	if err != nil {
		return nil, err
	}
	if len(chunks) == 1 {
		return chunks[0], nil
	}
	return bytes.Join(chunks, nil), nil
}

// readUpTo reads r to its end but at most limit+1 bytes (one more than the
// limit tells a longer input), and returns them in chunks, n in all. Memory
// follows the bytes that arrive, whatever hint announced: a chunk is at
// most readChunk bytes (the first is sized by hint), so reading never
// allocates more than readChunk ahead of the bytes received.
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

// readBody reads the whole request body, at most limit bytes (ErrBodyTooLarge
// past that, without reading on when Content-Length says so).
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d over the %d-byte limit", ErrBodyTooLarge, r.ContentLength, limit)
	}
	body, err := readCapped(r.Body, limit, r.ContentLength)
	return body, bodyError(err, limit)
}

// bodyError names what went wrong reading a body with a limit of limit
// bytes: nil, ErrBodyTooLarge (also for an outer http.MaxBytesReader's
// limit), the spool's own trouble, or ErrTokenMissing.
func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	switch {
	case err == nil || errors.Is(err, errSpool): // errSpool: no sentinel, so the operator hears of it
		return err
	case errors.As(err, &mbe):
		return fmt.Errorf("%w: over the %d-byte limit of an outer http.MaxBytesReader", ErrBodyTooLarge, mbe.Limit)
	case errors.Is(err, errTooLong):
		return fmt.Errorf("%w: over the %d-byte limit", ErrBodyTooLarge, limit)
	}
	return fmt.Errorf("%w: reading the body failed", ErrTokenMissing)
}

// tokenMembers collects the top-level members of a JSON body that
// encoding/json matches to the token field (see jsonTokenType): the first
// one's value, and whether another one differs. More than maxTokenMembers,
// or one longer than any token, stops the decoding (errBadMembers).
type tokenMembers struct {
	first string
	n     int
}

const maxTokenMembers = 16

var (
	// errNotString marks a token member that is not a JSON string.
	errNotString = errors.New("the token member is not a string")
	// errBadMembers marks token members that differ, are too many or too long.
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

// jsonTokenType is a struct type with one field tagged with the token field's
// name, made once per middleware: decoding a body into it finds the token
// members exactly as a handler decoding the body into its own struct would
// (any letter case, escapes, every occurrence). It panics when field cannot
// be a JSON tag name.
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

// jsonToken returns the token in a JSON body: the top-level string member
// named like the token field in any letter case. A body that is not one
// valid JSON object, or a member that is missing, empty or not a string, is
// ErrTokenMissing; two such members with different values are
// ErrTokenInvalid.
func (m *middleware) jsonToken(body []byte) (string, error) {
	v := reflect.New(m.jsonType)
	err := json.Unmarshal(body, v.Interface())
	switch {
	case errors.Is(err, errBadMembers):
		return "", fmt.Errorf("%w: the JSON members %q differ, are too many or too long", ErrTokenInvalid, m.tokenField)
	case errors.Is(err, errNotString):
		return "", fmt.Errorf("%w: the JSON member %q is not a string", ErrTokenMissing, m.tokenField)
	case err != nil || !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")):
		return "", fmt.Errorf("%w: the body is not one valid JSON object", ErrTokenMissing)
	}
	t := v.Elem().Field(0).Interface().(tokenMembers)
	if t.first == "" {
		return "", fmt.Errorf("%w: no string member %q at the top of the JSON object", ErrTokenMissing, m.tokenField)
	}
	return t.first, nil
}

// fromMultipart spools the body, finds the token among its text fields with
// a multipart.Reader, and leaves r.Body reading the spooled bytes from the
// start. File parts are never held in memory; text parts together may not
// exceed maxBody bytes, the whole body maxMultipart (ErrBodyTooLarge).
func (m *middleware) fromMultipart(r *http.Request, boundary string) (string, func(), error) {
	noop := func() {}
	if boundary == "" {
		return "", noop, fmt.Errorf("%w: multipart body without boundary", ErrTokenMissing)
	}
	if r.ContentLength > m.maxMultipart {
		return "", noop, fmt.Errorf("%w: Content-Length %d over the %d-byte multipart limit",
			ErrBodyTooLarge, r.ContentLength, m.maxMultipart)
	}
	body, size, done, err := spool(r.Body, r.ContentLength, m.maxBody, m.maxMultipart)
	if err != nil {
		return "", noop, bodyError(err, m.maxMultipart)
	}
	tok, err := m.multipartToken(body, size, boundary)
	if _, serr := body.Seek(0, io.SeekStart); serr != nil {
		done()
		return "", noop, fmt.Errorf("%w: rewinding the spooled body: %v", errSpool, serr)
	}
	// Handed on whatever the verdict: in ReportOnly mode the handler runs
	// after a rejection too.
	r.Body = io.NopCloser(body)
	return tok, done, err
}

// Multipart forms cost more to parse than their bytes: every part and
// header line is a few hundred bytes of maps and strings in mime/multipart.
// These bound that cost; see Options.MaxMultipartBytes.
const (
	maxParts       = 1000  // parts in one form, as net/http
	maxPartHeaders = 10000 // header lines in all parts together, as net/http
	// What parsing is allowed to allocate: 3 bytes per body byte (holding
	// the body takes the fourth) plus a fixed allowance.
	partsAllowancePerByte = 3
	partsAllowance        = 48 << 10
	// What a part and a header line are charged against it, and what one
	// byte of part headers can cost at most (measured: cost_test.go).
	partCost       = 1 << 10
	headerLineCost = 200
	headerByteCost = 48
	// meterRead is the most a read hands mime/multipart's buffer, so it
	// never holds more unparsed header lines than were paid for.
	meterRead = 256
)

// meter hands its reader to mime/multipart in small reads, counts what it
// handed on and stops at limit, so the header lines of one part cannot cost
// more than the allowance left.
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

// multipartToken reads the form in body (size bytes) and returns its token
// field. Beyond maxParts parts, maxPartHeaders header lines, or parts whose
// parsing costs more than their bytes allow: ErrBodyTooLarge.
func (m *middleware) multipartToken(body io.Reader, size int64, boundary string) (string, error) {
	src := &meter{r: body, limit: math.MaxInt64}
	mr := multipart.NewReader(src, boundary)
	tooMany := fmt.Errorf("%w: the multipart form has more parts or part headers than its %d bytes allow "+
		"(send the token in the header to protect such a form)", ErrBodyTooLarge, size)
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
			return "", fmt.Errorf("%w: malformed multipart form", ErrTokenMissing)
		}
		n := int64(0)
		for _, v := range p.Header {
			n += int64(len(v))
		}
		parts, lines = parts+1, lines+n
		spent += partCost + n*headerLineCost
		if parts > maxParts || lines > maxPartHeaders || spent > allowance {
			return "", tooMany
		}
		switch {
		case p.FormName() == "" || p.FileName() != "": // not a field, or a file
			_, err = io.Copy(io.Discard, p) // here, not in NextPart, whose reads are metered
			if err != nil {
				return "", fmt.Errorf("%w: malformed multipart form", ErrTokenMissing)
			}
			continue
		case p.FormName() == m.tokenField:
			v, rerr := readCapped(p, m.maxBody-text, 0)
			n, err = int64(len(v)), rerr
			vals = append(vals, string(v))
		default:
			n, err = io.Copy(io.Discard, io.LimitReader(p, m.maxBody-text+1))
		}
		text += n
		switch {
		case errors.Is(err, errTooLong) || text > m.maxBody:
			return "", fmt.Errorf("%w: multipart text fields over the %d-byte limit", ErrBodyTooLarge, m.maxBody)
		case err != nil:
			return "", fmt.Errorf("%w: malformed multipart form", ErrTokenMissing)
		}
	}
}

// errSpool marks a failure to spool a body to disk: the server's trouble.
var errSpool = errors.New("trustcaptcha: spooling the request body to a temporary file failed")

// spool reads src whole, at most limit bytes (errTooLong past that), into
// memory when it is at most memLimit bytes long and into one temporary file
// otherwise. announced is the Content-Length (-1 when unknown). size is the
// body's length; done closes and removes the file; it is never nil.
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
