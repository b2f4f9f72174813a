package trustcaptcha

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"
)

// extractToken finds the verification token in r: the header first, then the
// body by Content-Type (urlencoded form, multipart form, JSON). Never the query
// string. The next handler sees the same request it would have seen without
// us: a JSON or urlencoded body is restored byte for byte in r.Body, a
// urlencoded form is also left parsed in r.PostForm (r.ParseForm then fills
// r.Form as usual), a multipart form is left parsed in r.MultipartForm (so
// r.MultipartReader is no longer available: streaming handlers should get the
// token in the header, which leaves the body untouched).
func (m *middleware) extractToken(w http.ResponseWriter, r *http.Request) (string, error) {
	if vals := r.Header.Values(m.tokenHeader); len(vals) > 0 {
		tok, err := single(vals, "header")
		if err != nil || tok != "" {
			return tok, err
		}
	}
	if r.Body == nil || r.Body == http.NoBody {
		return "", fmt.Errorf("%w: no header and no body", ErrTokenMissing)
	}
	ct := r.Header.Get("Content-Type")
	if ct == "" {
		return "", fmt.Errorf("%w: body without Content-Type", ErrTokenMissing)
	}
	mt, params, err := mediaType(ct)
	if err != nil {
		return "", fmt.Errorf("%w: unreadable Content-Type", ErrTokenMissing)
	}
	var from func(http.ResponseWriter, *http.Request, map[string]string) (string, error)
	switch {
	case mt == "application/x-www-form-urlencoded":
		from = m.fromURLEncoded
	case mt == "multipart/form-data":
		from = m.fromMultipart
	case mt == "application/json" || strings.HasSuffix(mt, "+json"):
		from = m.fromJSON
	default:
		return "", fmt.Errorf("%w: Content-Type %s carries no token", ErrTokenMissing, truncate(mt, 60))
	}
	if ce := r.Header.Get("Content-Encoding"); ce != "" && !strings.EqualFold(ce, "identity") {
		return "", fmt.Errorf("%w: Content-Encoding %q is not supported", ErrTokenMissing, truncate(ce, 20))
	}
	return from(w, r, params)
}

// mediaType returns the lower-cased media type of a Content-Type value. Only
// multipart needs its parameters (the boundary), so only multipart pays for
// mime.ParseMediaType's full parse; the others just need a well-formed type.
func mediaType(ct string) (string, map[string]string, error) {
	mt, _, _ := strings.Cut(ct, ";") // parameters (charset) do not matter for forms and JSON
	mt = strings.ToLower(strings.TrimSpace(mt))
	if strings.HasPrefix(mt, "multipart/") {
		return mime.ParseMediaType(ct)
	}
	typ, sub, ok := strings.Cut(mt, "/")
	if !ok || typ == "" || sub == "" || strings.ContainsAny(mt, " \t\"(),:<>@[\\]?={}") {
		return "", nil, errors.New("malformed media type")
	}
	return mt, nil, nil
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

// readBody reads all of r.Body, at most limit bytes (ErrBodyTooLarge past
// that; the server then closes the connection instead of draining it). A
// known Content-Length sizes the buffer once: one allocation, no copies.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, error) {
	if r.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d over the %d-byte limit", ErrBodyTooLarge, r.ContentLength, limit)
	}
	size := int64(512)
	if r.ContentLength > 0 {
		size = r.ContentLength + 1 // room to see EOF without growing
	}
	buf, err := readAllSized(http.MaxBytesReader(w, r.Body, limit), size)
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return nil, fmt.Errorf("%w: over the %d-byte limit", ErrBodyTooLarge, limit)
		}
		return nil, fmt.Errorf("%w: reading the body failed", ErrTokenMissing)
	}
	return buf, nil
}

func (m *middleware) fromURLEncoded(w http.ResponseWriter, r *http.Request, _ map[string]string) (string, error) {
	body, err := readBody(w, r, m.maxBody)
	if err != nil {
		return "", err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	vals, err := url.ParseQuery(string(body))
	if err != nil {
		return "", fmt.Errorf("%w: malformed urlencoded form", ErrTokenMissing)
	}
	// What r.ParseForm would have stored; it then fills r.Form from this
	// and the query string, with its usual errors.
	if r.PostForm == nil && (r.Method == http.MethodPost || r.Method == http.MethodPut || r.Method == http.MethodPatch) {
		r.PostForm = vals
	}
	return fieldToken(vals[m.tokenField], "form")
}

func (m *middleware) fromMultipart(w http.ResponseWriter, r *http.Request, params map[string]string) (string, error) {
	if params["boundary"] == "" {
		return "", fmt.Errorf("%w: multipart body without boundary", ErrTokenMissing)
	}
	if r.ContentLength > m.maxMultipart {
		return "", fmt.Errorf("%w: Content-Length %d over the %d-byte multipart limit", ErrBodyTooLarge, r.ContentLength, m.maxMultipart)
	}
	r.Body = http.MaxBytesReader(w, r.Body, m.maxMultipart)
	// Files beyond maxBody bytes go to temporary files, which net/http
	// removes when the request ends.
	if err := r.ParseMultipartForm(m.maxBody); err != nil && r.MultipartForm == nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) || errors.Is(err, multipart.ErrMessageTooLarge) {
			return "", fmt.Errorf("%w: multipart form over the limits", ErrBodyTooLarge)
		}
		return "", fmt.Errorf("%w: malformed multipart form", ErrTokenMissing)
	}
	return fieldToken(r.MultipartForm.Value[m.tokenField], "form")
}

func fieldToken(vals []string, where string) (string, error) {
	tok, err := single(vals, where)
	if err == nil && tok == "" {
		err = fmt.Errorf("%w: no token field in the %s", ErrTokenMissing, where)
	}
	return tok, err
}

func (m *middleware) fromJSON(w http.ResponseWriter, r *http.Request, _ map[string]string) (string, error) {
	body, err := readBody(w, r, m.maxBody)
	if err != nil {
		return "", err
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return jsonToken(body, m.tokenField)
}

// jsonToken returns the string value of the top-level member field of the
// JSON object in body. A body that is not one valid JSON object, or a member
// that is missing, empty or not a string, is ErrTokenMissing; the member given
// twice with different values is ErrTokenInvalid.
func jsonToken(body []byte, field string) (string, error) {
	isObject, found, err := scanJSON(body, field)
	switch {
	case err != nil:
		return "", fmt.Errorf("%w: body is not valid JSON", ErrTokenMissing)
	case !isObject:
		return "", fmt.Errorf("%w: JSON body is not an object", ErrTokenMissing)
	}
	tok := ""
	for i, m := range found {
		if !m.isString {
			return "", fmt.Errorf("%w: JSON member %q is not a string", ErrTokenMissing, field)
		}
		v, err := jsonString(m.raw)
		if err != nil {
			return "", fmt.Errorf("%w: JSON member %q is not a string", ErrTokenMissing, field)
		}
		if i > 0 && v != tok {
			return "", fmt.Errorf("%w: two different tokens in the JSON body", ErrTokenInvalid)
		}
		tok = v
	}
	if tok == "" {
		return "", fmt.Errorf("%w: no string member %q at the top of the JSON object", ErrTokenMissing, field)
	}
	return tok, nil
}

// jsonStringEquals reports whether the JSON string literal lit decodes to s.
func jsonStringEquals(lit []byte, s string) bool {
	if bytes.IndexByte(lit, '\\') < 0 {
		return len(lit) == len(s)+2 && string(lit[1:len(lit)-1]) == s
	}
	v, err := jsonString(lit)
	return err == nil && v == s
}

// jsonString decodes a JSON string literal (as encoding/json would, invalid
// UTF-8 included).
func jsonString(lit []byte) (string, error) {
	if len(lit) >= 2 && bytes.IndexByte(lit, '\\') < 0 && utf8.Valid(lit) {
		return string(lit[1 : len(lit)-1]), nil
	}
	var v string
	err := json.Unmarshal(lit, &v)
	return v, err
}
