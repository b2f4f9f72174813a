package trustcaptchatest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"

	"github.com/captchakit/trustcaptcha"
)

// Kind is what a fresh token stands for, for NewToken and the request
// helpers.
type Kind int

const (
	// Human is a passed verification with bot score 0.1: admitted.
	Human Kind = iota
	// Bot is a passed verification with bot score 0.9, above the default
	// threshold: rejected with score-too-high.
	Bot
	// Failed is a verification that did not pass: rejected with
	// verification-failed.
	Failed
	// Unreachable is a verification whose result the API cannot serve
	// (it answers 503): the Client reports the API unreachable and the
	// failover policy decides.
	Unreachable
	// ClientFailover is a token the widget makes when the browser cannot
	// reach the API. The fake, having seen no outage, answers 412 to a
	// fetch with ?clientFailover=true (the Client sends it for such a
	// token), and 404 without the query.
	ClientFailover
)

// String returns the kind's name, such as "human".
func (k Kind) String() string {
	switch k {
	case Human:
		return "human"
	case Bot:
		return "bot"
	case Failed:
		return "failed"
	case Unreachable:
		return "unreachable"
	case ClientFailover:
		return "client-failover"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// NewToken registers a fresh verification of the given kind and returns its
// token. Every call makes a new one, so single-use checks admit each once.
// It panics on an unknown kind.
func (s *Server) NewToken(kind Kind) string {
	switch kind {
	case Human:
		return s.Human()
	case Bot:
		return s.Bot()
	case Failed:
		return s.Failed()
	case Unreachable:
		tok := s.Human()
		s.ForceStatus(tok, http.StatusServiceUnavailable)
		return tok
	case ClientFailover:
		return ClientFailoverToken()
	}
	panic(fmt.Sprintf("trustcaptchatest: NewToken: unknown kind %v", kind))
}

// NewFormRequest returns a POST to target (a path such as "/contact", or a
// URL) with an application/x-www-form-urlencoded body of fields and a fresh
// token of the given kind in the tc-verification-token field, as the widget's
// form submits it. Serve it with an httptest.ResponseRecorder, or set its URL
// and send it with an http.Client.
func (s *Server) NewFormRequest(target string, kind Kind, fields url.Values) *http.Request {
	body := url.Values{}
	for k, v := range fields {
		body[k] = append([]string(nil), v...)
	}
	body.Set(trustcaptcha.DefaultTokenField, s.NewToken(kind))
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(body.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return r
}

// NewJSONRequest returns a POST to target with a JSON object body: the
// members of fields and a fresh token of the given kind as its
// "tc-verification-token" member, as a single-page app sends it. It panics
// if fields cannot be encoded.
func (s *Server) NewJSONRequest(target string, kind Kind, fields map[string]any) *http.Request {
	body := map[string]any{}
	for k, v := range fields {
		body[k] = v
	}
	body[trustcaptcha.DefaultTokenField] = s.NewToken(kind)
	b, err := json.Marshal(body)
	if err != nil {
		panic(fmt.Sprintf("trustcaptchatest: NewJSONRequest: %v", err))
	}
	r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(string(b)))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("Accept", "application/json")
	return r
}
