package trustcaptcha

import (
	"cmp"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// problemType is the "type" member of the default problem+json response:
// the page that documents the reason codes.
const problemType = "https://pkg.go.dev/github.com/captchakit/trustcaptcha#Reason"

// DefaultErrorHandler answers StatusCode(err), uncached, as
// application/problem+json (RFC 9457, PublicReason(err) as "reason") to JSON
// clients and text/plain to others. It never writes the token, the error's
// text or the configuration; for a missing token it says where the
// middleware looked (and on a GET, how to protect only the POST). A nil err
// reads captcha-unavailable.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	c, hint := causeOf(err), ""
	if ce, ok := asCauseError(err); ok { // the middleware's own rejection: it says where it looked
		hint = ce.hint
	}
	detail := cmp.Or(c.detail, "The CAPTCHA cannot be verified right now. Please try again later.")
	reason := c.public()
	if hint != "" {
		detail += " The server " + hint + "."
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
		}{problemType, title, c.status, detail, reason})
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
	sentJSON := strings.Contains(ct, "/json") || strings.Contains(ct, "+json")
	return strings.Contains(accept, "json") || (accept == "" || accept == "*/*") && sentJSON
}
