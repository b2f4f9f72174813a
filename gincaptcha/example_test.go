package gincaptcha_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"

	"github.com/gin-gonic/gin"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/gincaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

// A Gin route protected by the captcha: the handler reads the form as
// usual, and the verification's result from the request's context.
func ExampleRequireCaptcha() {
	api := trustcaptchatest.NewServer() // in production: trustcaptcha.NewClient(apiKey)
	defer api.Close()

	r := gin.New()
	r.POST("/contact", gincaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client()}), func(c *gin.Context) {
		res, _ := gincaptcha.ResultFromContext(c)
		c.String(http.StatusOK, "Thanks, %s! (bot score %.1f)", c.PostForm("name"), res.Score)
	})

	for _, kind := range []trustcaptchatest.Kind{trustcaptchatest.Human, trustcaptchatest.Bot} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, api.NewFormRequest("/contact", kind, url.Values{"name": {"Ada"}}))
		fmt.Println(kind, rec.Code, rec.Body.String())
	}
	// Output:
	// human 200 Thanks, Ada! (bot score 0.1)
	// bot 400 CAPTCHA verification failed: The CAPTCHA verification did not pass. (score-too-high)
}
