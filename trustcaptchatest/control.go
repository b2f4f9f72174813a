package trustcaptchatest

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
)

// The control endpoints, for tests that cannot call Go (a Playwright or
// Cypress suite, a backend in another language): JSON in and out, on paths
// under /_fake/, which the real API never uses.
//
//	POST /_fake/tokens {"kind":"human"}  → 201 {"token":"…"}   (human, bot, failed, unreachable, client-failover)
//	POST /_fake/down   {"status":503}    → 204   every result request answers that status (400 to 599)
//	POST /_fake/up                       → 204   normal answers again
//
// A kind or status it does not know is 400 with {"error":"…"} saying what it
// takes.
//
// Only this machine's own pages and programs may steer the fake: a control
// request whose Origin header is present and not a loopback origin
// (http://127.0.0.1:*, http://localhost:*, http://[::1]:*) gets 403 and
// changes nothing, and so does the CORS preflight of one; a control request
// with a body must send it as application/json (415 otherwise), which a form
// on a foreign page cannot. curl, a test suite and a backend in another
// container send no Origin and work as they are.

// controlPrefix is the path under which the control endpoints live.
const controlPrefix = "/_fake/"

// control adds the control endpoints to mux.
func (s *Server) control(mux *http.ServeMux) {
	mux.HandleFunc("POST /_fake/tokens", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Kind string `json:"kind"`
		}
		if !readControl(w, r, &body) {
			return
		}
		kind, ok := kindNamed(body.Kind)
		if !ok {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf(
				`unknown kind %q: want "human", "bot", "failed", "unreachable" or "client-failover"`, body.Kind)})
			return
		}
		writeJSON(w, http.StatusCreated, map[string]string{"token": s.NewToken(kind)})
	})
	mux.HandleFunc("POST /_fake/down", func(w http.ResponseWriter, r *http.Request) {
		body := struct {
			Status int `json:"status"`
		}{Status: http.StatusServiceUnavailable}
		if !readControl(w, r, &body) {
			return
		}
		if body.Status < 400 || body.Status > 599 {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": fmt.Sprintf(
				"status %d: want an error status from 400 to 599, such as 503", body.Status)})
			return
		}
		s.Down(body.Status)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /_fake/up", func(w http.ResponseWriter, r *http.Request) {
		var ignored struct{}
		if !readControl(w, r, &ignored) {
			return
		}
		s.Down(0)
		w.WriteHeader(http.StatusNoContent)
	})
}

// readControl decodes a control request's JSON body into v (an empty body
// leaves v as it is), or answers 415 for a body that is not
// application/json, or 400 for one that is not a JSON object, and returns
// false.
func readControl(w http.ResponseWriter, r *http.Request, v any) bool {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<10))
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "reading the body failed"})
		return false
	}
	if len(body) == 0 {
		return true
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		writeJSON(w, http.StatusUnsupportedMediaType, map[string]string{
			"error": "send the body as Content-Type: application/json"})
		return false
	}
	err = json.Unmarshal(body, v)
	if err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "the body is not a JSON object: " + err.Error()})
		return false
	}
	return true
}

// kindNamed returns the Kind whose String is name.
func kindNamed(name string) (Kind, bool) {
	for k := Human; k <= ClientFailover; k++ {
		if k.String() == name {
			return k, true
		}
	}
	return 0, false
}
