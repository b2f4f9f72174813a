package trustcaptcha

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// ProblemType is the "type" member of the default problem+json response: the
// reason codes are documented there.
const ProblemType = "https://pkg.go.dev/github.com/captchakit/trustcaptcha#Reason"

// StatusCode returns the HTTP status of a rejection for err: 413 for
// ErrBodyTooLarge, 400 for everything else (nil included).
func StatusCode(err error) int { return causeOf(err).status }

// DefaultErrorHandler is the rejection response used when
// Options.ErrorHandler is nil: StatusCode(err), Cache-Control: no-store, and
// application/problem+json (RFC 9457, with PublicReason(err) as "reason")
// when the client accepts or sent JSON, text/plain otherwise. It never shows
// the token, the error's text or the server's configuration; for a missing
// token it names what the middleware looked for, and on a GET or HEAD how to
// protect only the form's POST. A nil err is answered as captcha-unavailable.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	c := causeOf(err)
	detail, reason := cmp.Or(c.detail, "The CAPTCHA cannot be verified right now. Please try again later."), c.public()
	if r, ok := err.(*rejection); ok && r.hint != "" {
		detail += " The server " + r.hint + "."
	}
	if err == nil {
		reason = unavailable
	}
	title := "CAPTCHA verification failed"
	if c.status == http.StatusRequestEntityTooLarge {
		title = "Request body too large"
	}
	var body []byte
	h := w.Header()
	if wantsJSON(r) {
		body, _ = json.Marshal(struct {
			Type   string `json:"type"`
			Title  string `json:"title"`
			Status int    `json:"status"`
			Detail string `json:"detail"`
			Reason string `json:"reason"`
		}{ProblemType, title, c.status, detail, reason})
		body = append(body, '\n')
		h.Set("Content-Type", "application/problem+json")
	} else {
		body = []byte(title + ": " + detail + " (" + reason + ")\n")
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(c.status)
	_, _ = w.Write(body)
}

// wantsJSON reports whether the client asked for JSON, or sent JSON and did
// not ask for anything in particular.
func wantsJSON(r *http.Request) bool {
	accept, ct := r.Header.Get("Accept"), r.Header.Get("Content-Type")
	return strings.Contains(accept, "json") ||
		(accept == "" || accept == "*/*") && (strings.Contains(ct, "/json") || strings.Contains(ct, "+json"))
}
