package trustcaptcha

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// ProblemType is the "type" member of the default problem+json response: the
// reason codes are documented there.
const ProblemType = "https://pkg.go.dev/github.com/captchakit/trustcaptcha#Reason"

// details are the fixed, client-safe explanations per public reason code.
var details = map[string]string{
	ReasonTokenMissing:         "The request carries no CAPTCHA verification token.",
	ReasonTokenInvalid:         "The CAPTCHA verification token is malformed.",
	ReasonVerificationNotFound: "The CAPTCHA verification is unknown. Please solve the CAPTCHA again.",
	ReasonNotFinished:          "The CAPTCHA has not been completed yet.",
	ReasonResultExpired:        "The CAPTCHA verification has expired. Please solve the CAPTCHA again.",
	ReasonRetrievalLimit:       "This CAPTCHA verification was already used. Please solve the CAPTCHA again.",
	ReasonClientFailover:       "The CAPTCHA could not be verified. Please try again.",
	ReasonVerificationFailed:   "The CAPTCHA verification did not pass.",
	ReasonScoreTooHigh:         "The CAPTCHA verification did not pass.",
	ReasonBodyTooLarge:         "The request body is too large.",
	ReasonOriginNotAllowed:     "The CAPTCHA was solved on a site that is not accepted here.",
	ReasonIPMismatch:           "The CAPTCHA was solved from another network address.",
	ReasonRequestCanceled:      "The request was canceled before the CAPTCHA was verified.",
	ReasonCaptchaUnavailable:   "The CAPTCHA cannot be verified right now. Please try again later.",
}

// prepared responses, built once per public reason and status.
type preparedResponse struct {
	problem []byte // application/problem+json
	text    []byte // text/plain
}

var prepared = func() map[string]preparedResponse {
	out := make(map[string]preparedResponse, len(details))
	for reason, detail := range details {
		status := http.StatusBadRequest
		title := "CAPTCHA verification failed"
		if reason == ReasonBodyTooLarge {
			status, title = http.StatusRequestEntityTooLarge, "Request body too large"
		}
		problem, _ := json.Marshal(struct {
			Type   string `json:"type"`
			Title  string `json:"title"`
			Status int    `json:"status"`
			Detail string `json:"detail"`
			Reason string `json:"reason"`
		}{ProblemType, title, status, detail, reason})
		out[reason] = preparedResponse{
			problem: append(problem, '\n'),
			text:    []byte(title + ": " + detail + " (" + reason + ")\n"),
		}
	}
	return out
}()

// DefaultErrorHandler is the rejection response used when
// Options.ErrorHandler is nil. It writes StatusCode(err) (400, or 413 for an
// oversized body) with Cache-Control: no-store, as application/problem+json
// (RFC 9457, with the reason code in a "reason" member) when the client
// accepts JSON or sent JSON, and as text/plain otherwise. It never echoes the
// token, the error's text or anything about the server's configuration: a
// bad API key, an unexpected API answer and an outage all read
// "captcha-unavailable" to the client. Custom handlers may call it.
func DefaultErrorHandler(w http.ResponseWriter, r *http.Request, err error) {
	reason := publicReason(Reason(err))
	resp, ok := prepared[reason]
	if !ok { // ReasonPassed: an error handler called without an error
		resp = prepared[ReasonCaptchaUnavailable]
	}
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	body := resp.text
	if wantsJSON(r) {
		h.Set("Content-Type", "application/problem+json")
		body = resp.problem
	} else {
		h.Set("Content-Type", "text/plain; charset=utf-8")
	}
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(StatusCode(err))
	_, _ = w.Write(body)
}

// wantsJSON reports whether the client asked for JSON, or sent JSON and did
// not ask for anything in particular.
func wantsJSON(r *http.Request) bool {
	accept := r.Header.Get("Accept")
	if strings.Contains(accept, "json") {
		return true
	}
	if accept != "" && accept != "*/*" {
		return false
	}
	ct := r.Header.Get("Content-Type")
	return strings.Contains(ct, "/json") || strings.Contains(ct, "+json")
}
