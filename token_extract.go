package trustcaptcha

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
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
	return &extraction{field: field, header: http.CanonicalHeaderKey(header),
		jsonType: jsonTokenType(field),
		maxBody:  maxBody, maxMultipart: maxMultipart}
}

// token finds the token in r: in the header, then in the body by its
// Content-Type (a JSON object, a urlencoded form, or a multipart form, which
// multipart.go reads), never in the query string. Whatever it finds, r.Body
// reads the same bytes afterwards. release removes the temporary file a
// multipart body may have been read into; it is never nil, and is called
// once the request has been answered.
func (x *extraction) token(r *http.Request) (tok string, release func(), err error) {
	release = func() {}
	if tok, err := single(r.Header.Values(x.header), "header"); err != nil || tok != "" {
		return tok, release, err
	}
	if r.Body == nil || r.Body == http.NoBody {
		return "", release, notInBody{fmt.Errorf("%w: no header and no body", ErrTokenMissing)}
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	isJSON := mt == "application/json" || strings.HasSuffix(mt, "+json")
	multi := mt == "multipart/form-data"
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
		return "", release, fmt.Errorf("%w: Content-Length %d over the %d-byte limit",
			ErrBodyTooLarge, r.ContentLength, limit)
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

// notInBody is the error of a request without a token whose body is absent
// or was read to its end: a JSON body that is not an object, a form without
// the token field. Options.Required may admit such a request. A body cut
// off, over a limit, malformed, or of a type or encoding that carries no
// token gets another error, and is rejected without asking.
type notInBody struct{ error }

func (e notInBody) Unwrap() error { return e.error }

// isNotInBody reports whether err is or wraps a notInBody.
func isNotInBody(err error) bool {
	var nb notInBody
	return errors.As(err, &nb)
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
		return fmt.Errorf("%w: over the %d-byte limit of an outer http.MaxBytesReader",
			ErrBodyTooLarge, mbe.Limit)
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
		err = notInBody{fmt.Errorf("%w: no token field in the %s", ErrTokenMissing, where)}
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
		punct := strings.ContainsRune("-_.:@$!#%&()*+/;<=>?[]^{|}~ ", c)
		if !unicode.IsLetter(c) && !unicode.IsDigit(c) && !punct {
			panic(fmt.Sprintf("trustcaptcha: Options.TokenField %q: a JSON tag cannot hold %q", field, c))
		}
	}
	return reflect.StructOf([]reflect.StructField{{
		Name: "Token", Type: reflect.TypeFor[tokenMembers](),
		Tag: reflect.StructTag(`json:"` + field + `"`),
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
	case len(b) > maxTokenLength+2 || t.n == maxTokenMembers: // never decoded
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
		return "", fmt.Errorf("%w: the JSON members %q differ, are too many or too long",
			ErrTokenInvalid, x.field)
	case errors.Is(err, errNotString):
		return "", notInBody{fmt.Errorf("%w: the JSON member %q is not a string",
			ErrTokenMissing, x.field)}
	case err != nil || !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")):
		return "", notInBody{fmt.Errorf("%w: the body is not one valid JSON object", ErrTokenMissing)}
	}
	if t := v.Elem().Field(0).Interface().(tokenMembers); t.first != "" {
		return t.first, nil
	}
	return "", notInBody{fmt.Errorf("%w: no string member %q at the top of the JSON object",
		ErrTokenMissing, x.field)}
}
