// Package trustcaptcha protects net/http routes with TrustCaptcha, a
// privacy-first CAPTCHA. The browser widget puts a tc-verification-token into
// the form it submits; RequireCaptcha reads that token (from a header, a
// urlencoded or multipart form, or a JSON body, leaving the body readable),
// asks the TrustCaptcha API for the verification result through a Verifier,
// enforces the bot-score threshold, applies a failover policy when the API
// cannot be reached, and rejects with 400 before the wrapped handler runs.
//
// # Quick start
//
//	client, err := trustcaptcha.NewClient(os.Getenv("TRUSTCAPTCHA_API_KEY"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	captcha := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client})
//
//	mux := http.NewServeMux()
//	mux.Handle("POST /contact", captcha(contactHandler))         // net/http
//	r.With(captcha).Post("/contact", contact)                    // chi, one route
//	r.Group(func(r chi.Router) { r.Use(captcha); /* routes */ }) // chi, a group
//
// In the handler, ResultFromContext returns the verified result and
// AdmittedByFailover tells a request let through during an API outage (it
// has no result).
//
// # One solve, one request
//
// Each verification admits one request: the middleware claims it in
// Options.ReplayStore (by default a MemoryStore shared by the process) and
// rejects a second use with ErrTokenReused. A fleet of instances shares the
// claims, and the failover budget of LimitFailoverShared, on Redis with
// package github.com/captchakit/trustcaptcha/redisstore.
//
// # Decisions
//
// A request passes when the API's result has VerificationPassed and a Score
// (a bot score: 0 looks human, 1 looks like a bot) at or below
// Options.Threshold (default 0.5). Everything else is rejected with 400
// (413 for a body over the size limit) through Options.ErrorHandler; the
// default answers application/problem+json (RFC 9457) to JSON clients and
// plain text to others, with a stable reason code (see Reason), and never
// shows the token, internal error text or anything about the API key.
//
// When the API cannot answer (network error, timeout, 5xx, the Client's
// outage breaker open), Options.Failover decides: FailClosed (the default)
// rejects, FailOpen admits and marks the request, LimitFailover bounds how
// many are admitted, FailoverFunc decides per request. A token that claims
// the browser could not reach the API is admitted only by a policy that
// explicitly trusts it. A bad API key or an answer outside the protocol is
// never admitted; it is logged to Options.Logger for the operator.
//
// # Files
//
// middleware.go (RequireCaptcha, Options, the checks), decision.go (Decision
// and the context accessors), token_extract.go (taking the token from a
// request), token.go (the token format), verifier.go (Verifier, Result),
// client.go and breaker.go (the API client), failover.go (the policies),
// replay.go (single use), clientip.go (MatchClientIP), errors.go (the table
// of causes), response.go (the default rejection).
//
// # The API client
//
// Client speaks the current TrustCaptcha protocol: the API host is fixed at
// construction (never taken from the token), the key goes only there as a
// Bearer token, redirects are never followed, every call is bounded by a
// timeout, responses are read with a size cap, connections are reused, and
// every status maps to a sentinel error matched with errors.Is.
//
// # Next to it
//
// Package github.com/captchakit/trustcaptcha/widget renders the browser widget
// with the Content-Security-Policy it needs; module
// github.com/captchakit/trustcaptcha/otelcaptcha records the decisions as
// OpenTelemetry metrics and traces (use Options.OnDecision and Client.Stats
// for anything else).
//
// # Testing
//
// Package trustcaptchatest runs a fake TrustCaptcha API on 127.0.0.1 that
// mints tokens for any result, builds form and JSON requests carrying a
// fresh token of any kind, forces any status, delay or hang, and serves the
// widget's endpoints, so tests need no account and no network.
package trustcaptcha
