// Package trustcaptcha protects net/http routes with TrustCaptcha, a
// privacy-first CAPTCHA. The browser widget puts a tc-verification-token into
// the form it submits; RequireCaptcha reads it (header, urlencoded or
// multipart form, or JSON body, leaving the body readable), asks the
// TrustCaptcha API for the result through a Verifier, enforces the bot-score
// threshold, applies a FailoverPolicy when the API cannot be reached, admits
// each solved CAPTCHA once (ReplayStore), and rejects with 400 (413 for an
// oversized body) before the wrapped handler runs.
//
//	client, err := trustcaptcha.NewClient(os.Getenv("TRUSTCAPTCHA_API_KEY"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	captcha := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client})
//
//	mux.Handle("POST /contact", captcha(contactHandler))         // net/http
//	r.With(captcha).Post("/contact", contact)                    // chi, one route
//	r.Group(func(r chi.Router) { r.Use(captcha); /* routes */ }) // chi, a group
//
// Where to look next:
//   - Options for every setting and its default.
//   - ResultFromContext and AdmittedByFailover in the handler.
//   - Reason for the reason codes of rejections.
//   - FailoverPolicy for API outages; Client for the API client.
//   - StepUp to ask for the CAPTCHA only after a few tries (Options.Required).
//   - MemoryStore, and package redisstore, for single use and counts shared
//     by a fleet.
//   - Package widget to render the widget with its Content-Security-Policy.
//   - Package trustcaptchatest for a fake API that needs no account or
//     network, and command trustcaptcha-fake (go run
//     github.com/captchakit/trustcaptcha/cmd/trustcaptcha-fake@latest) for
//     the same fake as a process, for end-to-end tests in any language.
//   - Module gincaptcha for Gin; module otelcaptcha for OpenTelemetry
//     metrics and traces.
package trustcaptcha
