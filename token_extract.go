package trustcaptcha

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
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
// us: r.Body holds the same bytes (a urlencoded form is also left parsed in
// r.PostForm, so r.ParseForm then fills r.Form as usual); a multipart body is
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
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return "", done, fmt.Errorf("%w: malformed urlencoded form", ErrTokenMissing)
	}
	// What r.ParseForm would have stored; it then fills r.Form from this
	// and the query string, with its usual errors.
	if r.PostForm == nil && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch) {
		r.PostForm = vals
	}
	tok, err = fieldToken(vals[m.tokenField], "form")
	return tok, done, err
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

// readCapped reads r to its end, at most limit bytes: errTooLong past that.
// hint, when positive, is the expected length (a Content-Length), so the
// buffer is allocated once. Every read of untrusted input in this package
// goes through it.
func readCapped(r io.Reader, limit, hint int64) ([]byte, error) {
	buf, err := readUpTo(r, limit, hint)
	switch {
	case err != nil:
		return nil, err
	case int64(buf.Len()) > limit:
		return nil, errTooLong
	}
	return buf.Bytes(), nil
}

// readUpTo reads r to its end but at most limit+1 bytes (one more than the
// limit tells a longer input), allocating once when hint is the length.
func readUpTo(r io.Reader, limit, hint int64) (*bytes.Buffer, error) {
	var buf bytes.Buffer
	if hint > 0 {
		buf.Grow(int(min(hint, limit)) + bytes.MinRead) // room to see EOF without growing
	}
	_, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	return &buf, err
}

// readBody reads the whole request body, at most limit bytes (ErrBodyTooLarge
// past that, without reading on when Content-Length says so).
func readBody(r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d over the %d-byte limit", ErrBodyTooLarge, r.ContentLength, limit)
	}
	body, err := readCapped(r.Body, limit, r.ContentLength)
	switch {
	case errors.Is(err, errTooLong):
		return nil, fmt.Errorf("%w: over the %d-byte limit", ErrBodyTooLarge, limit)
	case err != nil:
		return nil, fmt.Errorf("%w: reading the body failed", ErrTokenMissing)
	}
	return body, nil
}

// tokenMembers collects every top-level member of a JSON body that
// encoding/json matches to the token field (see jsonTokenType).
type tokenMembers []string

// errNotString marks a token member that is not a JSON string.
var errNotString = errors.New("the token member is not a string")

func (t *tokenMembers) UnmarshalJSON(b []byte) error {
	var v string
	if b[0] != '"' || json.Unmarshal(b, &v) != nil {
		return errNotString
	}
	*t = append(*t, v)
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
	case errors.Is(err, errNotString):
		return "", fmt.Errorf("%w: the JSON member %q is not a string", ErrTokenMissing, m.tokenField)
	case err != nil || !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")):
		return "", fmt.Errorf("%w: the body is not one valid JSON object", ErrTokenMissing)
	}
	vals := v.Elem().Field(0).Interface().(tokenMembers)
	for _, s := range vals[min(1, len(vals)):] {
		if s != vals[0] {
			return "", fmt.Errorf("%w: two different tokens in the JSON body", ErrTokenInvalid)
		}
	}
	if len(vals) == 0 || vals[0] == "" {
		return "", fmt.Errorf("%w: no string member %q at the top of the JSON object", ErrTokenMissing, m.tokenField)
	}
	return vals[0], nil
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
	body, done, err := spool(r.Body, r.ContentLength, m.maxBody, m.maxMultipart)
	switch {
	case errors.Is(err, errTooLong):
		return "", noop, fmt.Errorf("%w: over the %d-byte multipart limit", ErrBodyTooLarge, m.maxMultipart)
	case errors.Is(err, errSpool):
		return "", noop, err // the server's own trouble: no sentinel, so the operator hears of it
	case err != nil:
		return "", noop, fmt.Errorf("%w: reading the body failed", ErrTokenMissing)
	}
	tok, err := m.multipartToken(body, boundary)
	if _, serr := body.Seek(0, io.SeekStart); serr != nil {
		done()
		return "", noop, fmt.Errorf("%w: rewinding the spooled body: %v", errSpool, serr)
	}
	// Handed on whatever the verdict: in ReportOnly mode the handler runs
	// after a rejection too.
	r.Body = io.NopCloser(body)
	return tok, done, err
}

// multipartToken reads the form in body and returns its token field.
func (m *middleware) multipartToken(body io.Reader, boundary string) (string, error) {
	mr := multipart.NewReader(body, boundary)
	var vals []string
	text := int64(0) // bytes of text fields read so far
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("%w: malformed multipart form", ErrTokenMissing)
		}
		if p.FormName() == "" || p.FileName() != "" {
			continue // not a field, or a file: NextPart skips its content
		}
		var n int64
		if p.FormName() == m.tokenField {
			v, rerr := readCapped(p, m.maxBody-text, 0)
			n, err = int64(len(v)), rerr
			vals = append(vals, string(v))
		} else {
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
	return fieldToken(vals, "form")
}

// errSpool marks a failure to spool a body to disk: the server's trouble.
var errSpool = errors.New("trustcaptcha: spooling the request body to a temporary file failed")

// spool reads src whole, at most limit bytes (errTooLong past that), into
// memory when it is at most memLimit bytes long and into one temporary file
// otherwise. announced is the Content-Length (-1 when unknown). done closes
// and removes the file; it is never nil.
func spool(src io.Reader, announced, memLimit, limit int64) (body io.ReadSeeker, done func(), err error) {
	done = func() {}
	head := new(bytes.Buffer)
	if announced <= memLimit { // unknown or small: memory first
		if head, err = readUpTo(src, memLimit, announced); err != nil {
			return nil, done, err
		}
		if int64(head.Len()) <= memLimit {
			return bytes.NewReader(head.Bytes()), done, nil
		}
	}
	f, err := os.CreateTemp("", "trustcaptcha-body-*")
	if err != nil {
		return nil, done, fmt.Errorf("%w: %v", errSpool, err)
	}
	done = func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	n, err := io.Copy(f, io.MultiReader(head, io.LimitReader(src, limit+1-int64(head.Len()))))
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
		return nil, func() {}, err
	}
	return f, done, nil
}
