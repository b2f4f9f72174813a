package trustcaptcha

import (
	"bufio"
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

// Reading the token out of a request, leaving the body to the next handler.

// extraction is where the middleware looks for the token, and how much of a
// body it reads: Options prepared once.
type extraction struct {
	field        string       // the form field and JSON member, Options.TokenField
	header       string       // Options.TokenHeader, canonical
	jsonType     reflect.Type // see jsonTokenType
	maxBody      int64        // Options.MaxBodyBytes
	maxMultipart int64        // Options.MaxMultipartBytes
}

// newExtraction prepares the extraction; it panics when field cannot be a
// JSON member name.
func newExtraction(field, header string, maxBody, maxMultipart int64) *extraction {
	return &extraction{field: field, header: http.CanonicalHeaderKey(header), jsonType: jsonTokenType(field),
		maxBody: maxBody, maxMultipart: maxMultipart}
}

// token finds the token in r: the header, then the body by its Content-Type,
// never the query string. Whatever it finds, r.Body reads the same bytes
// afterwards: a JSON or urlencoded body from memory, a multipart body from
// memory or, past maxBody bytes, from a temporary file, unparsed. release
// removes that file; call it once the next handler has returned. It is
// never nil.
func (x *extraction) token(r *http.Request) (tok string, release func(), err error) {
	release = func() {}
	if tok, err := single(r.Header.Values(x.header), "header"); err != nil || tok != "" {
		return tok, release, err
	}
	if r.Body == nil || r.Body == http.NoBody {
		return "", release, fmt.Errorf("%w: no header and no body", ErrTokenMissing)
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJSON, multi := mt == "application/json" || strings.HasSuffix(mt, "+json"), mt == "multipart/form-data"
	limit, ce := x.maxBody, r.Header.Get("Content-Encoding")
	if multi {
		limit = x.maxMultipart
	}
	switch {
	case err != nil:
		return "", release, fmt.Errorf("%w: no readable Content-Type", ErrTokenMissing)
	case mt != "application/x-www-form-urlencoded" && !multi && !isJSON:
		return "", release, fmt.Errorf("%w: Content-Type %.60s carries no token", ErrTokenMissing, mt)
	case ce != "" && !strings.EqualFold(ce, "identity"):
		return "", release, fmt.Errorf("%w: Content-Encoding %.20q is not supported", ErrTokenMissing, ce)
	case multi && params["boundary"] == "":
		return "", release, fmt.Errorf("%w: multipart body without boundary", ErrTokenMissing)
	case r.ContentLength > limit:
		return "", release, fmt.Errorf("%w: Content-Length %d over the %d-byte limit", ErrBodyTooLarge, r.ContentLength, limit)
	case multi:
		return x.fromMultipart(r, params["boundary"])
	}
	body, err := readAtMost(r.Body, x.maxBody)
	if err != nil {
		return "", release, bodyError(err, x.maxBody)
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	if isJSON {
		tok, err = x.fromJSON(body)
		return tok, release, err
	}
	tok, err = fieldToken(formValues(body, x.field), "form")
	return tok, release, err
}

// errTooLong says a body went past its limit.
var errTooLong = errors.New("longer than the limit")

// readAtMost reads r to its end, or fails with errTooLong past limit bytes.
// io.ReadAll grows its buffer as bytes arrive, so a body that announces more
// than it sends costs no more than what it sent.
func readAtMost(r io.Reader, limit int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err == nil && int64(len(b)) > limit {
		return nil, errTooLong
	}
	return b, err
}

// bodyError names the failure to read a body of at most limit bytes:
// ErrBodyTooLarge (also for an outer http.MaxBytesReader's limit), the
// spool's own trouble (no sentinel: the operator hears of it), or else
// ErrTokenMissing (the client sent a broken body).
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

// formValues returns the values of field in a urlencoded body as
// url.ParseQuery reads them, without building the whole form: a body of
// many short fields costs no map.
func formValues(body []byte, field string) []string {
	var vals []string
	for pair := range bytes.SplitSeq(body, []byte("&")) {
		k, v, _ := bytes.Cut(pair, []byte("="))
		if bytes.IndexByte(pair, ';') >= 0 { // url.ParseQuery refuses such a pair
			continue
		}
		if string(k) != field {
			// Only an escaped key can still read as field: it has a % or a
			// +, and is at most three bytes per byte of field.
			if len(k) < len(field) || len(k) > 3*len(field) || !bytes.ContainsAny(k, "%+") {
				continue
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

// single returns the one token among vals, trimmed: "" for none, and
// ErrTokenInvalid for two that differ.
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

// fieldToken is single for a body, where no token is ErrTokenMissing.
func fieldToken(vals []string, where string) (string, error) {
	tok, err := single(vals, where)
	if err == nil && tok == "" {
		err = fmt.Errorf("%w: no token field in the %s", ErrTokenMissing, where)
	}
	return tok, err
}

// The JSON body.

// jsonTokenType returns a struct type whose one field, of type
// tokenMembers, is tagged with the token field's name. Decoding a body into
// it with encoding/json finds the token members exactly as a handler's own
// struct would: in any letter case, escaped or not, every occurrence. It
// panics when field cannot be a JSON tag name.
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

// tokenMembers collects the token members of a JSON body, which
// encoding/json hands it one by one. It stops the decoding at a member that
// is not a string, at one that differs from the first, past maxTokenMembers
// of them, and at one longer than any token.
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

// fromJSON returns the top-level string member of a JSON object body named
// like the token field: ErrTokenMissing without one (or for a body that is
// not one valid JSON object), ErrTokenInvalid for two that differ.
func (x *extraction) fromJSON(body []byte) (string, error) {
	v := reflect.New(x.jsonType)
	err := json.Unmarshal(body, v.Interface())
	switch {
	case errors.Is(err, errBadMembers):
		return "", fmt.Errorf("%w: the JSON members %q differ, are too many or too long", ErrTokenInvalid, x.field)
	case errors.Is(err, errNotString):
		return "", fmt.Errorf("%w: the JSON member %q is not a string", ErrTokenMissing, x.field)
	case err != nil || !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")):
		return "", fmt.Errorf("%w: the body is not one valid JSON object", ErrTokenMissing)
	}
	if t := v.Elem().Field(0).Interface().(tokenMembers); t.first != "" {
		return t.first, nil
	}
	return "", fmt.Errorf("%w: no string member %q at the top of the JSON object", ErrTokenMissing, x.field)
}

// The multipart body.

// fromMultipart spools the body, finds the token among its text fields, and
// leaves r.Body reading the spool from its start, whatever it found.
func (x *extraction) fromMultipart(r *http.Request, boundary string) (string, func(), error) {
	noop := func() {}
	body, size, release, err := spool(r.Body, r.ContentLength, x.maxBody, x.maxMultipart)
	if err != nil {
		return "", noop, bodyError(err, x.maxMultipart)
	}
	scan := io.Reader(body)
	if f, ok := body.(*os.File); ok {
		// multipartToken reads in small pieces (see meter): from a file, a
		// buffer makes them copies instead of system calls.
		scan = bufio.NewReaderSize(f, 32<<10)
	}
	tok, err := x.multipartToken(scan, size, boundary)
	if _, serr := body.Seek(0, io.SeekStart); serr != nil {
		release()
		return "", noop, fmt.Errorf("%w: rewinding the spooled body: %v", errSpool, serr)
	}
	r.Body = io.NopCloser(body)
	return tok, release, err
}

// errSpool marks a failure to spool a body to disk: the server's trouble.
var errSpool = errors.New("trustcaptcha: spooling the request body to a temporary file failed")

// spool reads src to its end, at most limit bytes (errTooLong past that):
// into memory when it turns out to hold at most memLimit bytes, and into a
// temporary file otherwise, or at once when announced (its Content-Length,
// -1 if unknown) is over memLimit. release removes the file; it is never
// nil.
func spool(src io.Reader, announced, memLimit, limit int64) (body io.ReadSeeker, size int64, release func(), err error) {
	release = func() {}
	var head []byte
	if announced <= memLimit {
		if head, err = io.ReadAll(io.LimitReader(src, memLimit+1)); err != nil {
			return nil, 0, release, err
		}
		if int64(len(head)) <= memLimit {
			return bytes.NewReader(head), int64(len(head)), release, nil
		}
	}
	f, err := os.CreateTemp("", "trustcaptcha-body-*")
	if err != nil {
		return nil, 0, release, fmt.Errorf("%w: %v", errSpool, err)
	}
	release = func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	n, err := io.Copy(f, io.LimitReader(io.MultiReader(bytes.NewReader(head), src), limit+1))
	if err == nil && n > limit {
		err = errTooLong
	}
	if err == nil {
		_, err = f.Seek(0, io.SeekStart)
	}
	var pathErr *fs.PathError
	if errors.As(err, &pathErr) { // the file failed, not the client
		err = fmt.Errorf("%w: %v", errSpool, err)
	}
	if err != nil {
		release()
		return nil, 0, func() {}, err
	}
	return f, n, release, nil
}

// What parsing a multipart form costs. mime/multipart allocates per part (a
// header map, a Part) and per header line (its key and value); a form of many
// tiny parts or header lines costs far more memory to parse than it has
// bytes. Measured on Go 1.26 and 1.27 (runtime.MemStats around NextPart): a
// part with one header line, about 1,020 bytes; each further distinct header
// line, about 208 bytes; a byte of header, at most about 28 bytes.
//
// So parsing may spend 1.5 bytes per body byte plus partsAllowance, charged
// partCost per part and headerLineCost per header line, and no part's header
// may read more bytes than the allowance left / headerByteCost. Reading the
// body itself costs about 2 x its size (io.ReadAll's growing buffers and its
// final copy), so a request of any shape costs at most 4 x its size +
// 64 KiB, with some room to spare for what the parser allocates besides. TestRequestCostIsBoundedByBodySize checks that for every shape, on
// each Go release CI runs. maxParts and maxPartHeaders are net/http's own
// limits (CVE-2023-24536), which multipart.Reader.ReadForm applies but
// NextPart, which this reads with, does not.
const (
	maxParts       = 1000     // parts in one form
	maxPartHeaders = 10000    // header lines in all parts
	partsAllowance = 40 << 10 // parsing may spend 1.5 bytes per body byte plus this
	partCost       = 1 << 10  // charged per part
	headerLineCost = 200      // charged per header line
	headerByteCost = 48       // the most one byte of a part's header is taken to cost
	meterRead      = 256      // the most one read hands mime/multipart
)

// meter hands its reader on in reads of at most meterRead bytes and stops
// at limit. Its small reads keep mime/multipart's buffer from reading far
// ahead, so limit bounds the bytes of the part header it is parsing.
type meter struct {
	r       io.Reader
	n       int64 // bytes handed on
	limit   int64
	stopped bool // a read hit limit
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

// multipartToken returns the token field of the multipart form in body
// (size bytes). A form whose parts cost more to parse than its size allows
// (see partCost), or whose text fields hold more than maxBody bytes, is
// ErrBodyTooLarge.
func (x *extraction) multipartToken(body io.Reader, size int64, boundary string) (string, error) {
	src := &meter{r: body, limit: math.MaxInt64}
	mr := multipart.NewReader(src, boundary)
	tooMany := fmt.Errorf("%w: the multipart form has more parts or part headers than its %d bytes allow "+
		"(send the token in the header to protect such a form)", ErrBodyTooLarge, size)
	malformed := fmt.Errorf("%w: malformed multipart form", ErrTokenMissing)
	allowance := size*3/2 + partsAllowance
	var vals []string
	var text, spent, parts, lines int64 // text: bytes of text fields read so far
	for {
		// The next part's header may read what the allowance left pays for.
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
		case p.FormName() == x.field:
			v, rerr := readAtMost(p, x.maxBody-text)
			n, err = int64(len(v)), rerr
			vals = append(vals, string(v))
		default:
			n, err = io.Copy(io.Discard, io.LimitReader(p, x.maxBody-text+1))
		}
		text += n
		switch {
		case errors.Is(err, errTooLong) || text > x.maxBody:
			return "", fmt.Errorf("%w: multipart text fields over the %d-byte limit", ErrBodyTooLarge, x.maxBody)
		case err != nil:
			return "", malformed
		}
	}
}
