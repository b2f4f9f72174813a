// Package gincaptcha protects Gin routes with TrustCaptcha: it runs the
// middleware of package trustcaptcha as a gin.HandlerFunc, with the same
// options and the same guarantees.
//
//	client, err := trustcaptcha.NewClient(os.Getenv("TRUSTCAPTCHA_API_KEY"))
//	if err != nil {
//		log.Fatal(err)
//	}
//	captcha := gincaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client})
//
//	r := gin.Default()
//	r.POST("/contact", captcha, contact) // one route
//
//	g := r.Group("/signup", gincaptcha.RequireCaptcha(trustcaptcha.Options{
//		Verifier: client,
//		Skip:     trustcaptcha.SkipSafeMethods, // the group's GET page is served unchecked
//	}))
//
// A rejected request gets the core's answer (400, or 413 for an oversized
// body; or what Options.ErrorHandler writes) and the chain is aborted: no
// later middleware or handler runs. An admitted request continues down the
// chain with c.Request set to the request the core passed on: its body reads
// the same bytes, so c.PostForm, c.ShouldBindJSON and c.FormFile work.
//
// The handler learns what was decided from ResultFromContext,
// AdmittedByFailover and DecisionFromContext of this package, which take the
// *gin.Context:
//
//	func contact(c *gin.Context) {
//		if gincaptcha.AdmittedByFailover(c) {
//			// admitted while the API was down: add friction
//		}
//	}
//
// The core's accessors of the same names need c.Request.Context(). Handed
// the *gin.Context itself, they find nothing (and so report false) unless
// the engine sets ContextWithFallback, because a *gin.Context looks up only
// its own keys by default.
package gincaptcha

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/captchakit/trustcaptcha"
)

// RequireCaptcha returns Gin middleware that admits a request only when
// trustcaptcha.RequireCaptcha(opts) would: it lets the rest of the chain run
// for an admitted (or skipped) request, and aborts the chain after the
// rejection is written otherwise. It panics, as the core does, on a wiring
// mistake in opts (a nil Verifier among them), naming the field.
func RequireCaptcha(opts trustcaptcha.Options) gin.HandlerFunc {
	captcha := trustcaptcha.RequireCaptcha(opts)
	return func(c *gin.Context) {
		admitted := false
		captcha(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
			admitted = true
			c.Request = r // the body restored, the decision in its context
			// The rest of the chain runs here, inside the core's handler, so
			// a multipart form's temporary files live until it returns.
			c.Next()
		})).ServeHTTP(c.Writer, c.Request)
		if !admitted {
			c.Abort()
		}
	}
}

// DecisionFromContext returns the decision RequireCaptcha made for c's
// request, as trustcaptcha.DecisionFromContext does for
// c.Request.Context(). ok is false when no RequireCaptcha ran before, or
// when Skip let the request through.
func DecisionFromContext(c *gin.Context) (trustcaptcha.Decision, bool) {
	return trustcaptcha.DecisionFromContext(c.Request.Context())
}

// ResultFromContext returns the result of a request that passed every
// check, as trustcaptcha.ResultFromContext does for c.Request.Context():
// (nil, false) for one admitted on failover or without a CAPTCHA, and
// without a RequireCaptcha before.
func ResultFromContext(c *gin.Context) (*trustcaptcha.Result, bool) {
	return trustcaptcha.ResultFromContext(c.Request.Context())
}

// AdmittedByFailover reports whether the failover policy let c's request
// through without a verified result, as trustcaptcha.AdmittedByFailover does
// for c.Request.Context(): the handler may add friction.
func AdmittedByFailover(c *gin.Context) bool {
	return trustcaptcha.AdmittedByFailover(c.Request.Context())
}
