package gincaptcha_test

import (
	"io"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/gincaptcha"
	"github.com/captchakit/trustcaptcha/internal/routertest"
)

func init() { gin.SetMode(gin.TestMode) }

// TestGin: the guarantees of RequireCaptcha on net/http hold through Gin:
// an admitted request reaches c.PostForm, c.ShouldBindJSON and c.FormFile
// with its decision; a rejection runs nothing after the captcha.
func TestGin(t *testing.T) {
	routertest.Run(t, func(opts trustcaptcha.Options, later func()) http.Handler {
		r := gin.New()
		laterMW := func(c *gin.Context) { later(); c.Next() }
		captcha := gincaptcha.RequireCaptcha(opts)
		r.POST("/form", captcha, laterMW, func(c *gin.Context) {
			c.String(http.StatusOK, "name=%s%s", c.PostForm("name"), routertest.Describe(c.Request))
		})
		r.POST("/json", captcha, laterMW, func(c *gin.Context) {
			var body struct {
				Name string `json:"name"`
			}
			if err := c.ShouldBindJSON(&body); err != nil {
				c.String(http.StatusUnprocessableEntity, "bind: %v", err)
				return
			}
			c.String(http.StatusOK, "name=%s%s", body.Name, routertest.Describe(c.Request))
		})
		r.POST("/upload", captcha, laterMW, func(c *gin.Context) {
			fh, err := c.FormFile("file")
			if err != nil {
				c.String(http.StatusUnprocessableEntity, "form file: %v", err)
				return
			}
			f, err := fh.Open()
			if err != nil {
				c.String(http.StatusInternalServerError, "open: %v", err)
				return
			}
			defer f.Close()
			b, _ := io.ReadAll(f)
			c.String(http.StatusOK, "file=%s%s", b, routertest.Describe(c.Request))
		})
		skipping := opts
		skipping.Skip = trustcaptcha.SkipSafeMethods
		page := r.Group("/page", gincaptcha.RequireCaptcha(skipping))
		page.GET("", func(c *gin.Context) { c.String(http.StatusOK, "page") })
		page.POST("", func(c *gin.Context) {
			c.String(http.StatusOK, "name=%s%s", c.PostForm("name"), routertest.Describe(c.Request))
		})
		return r
	})
}

func TestRequireCaptchaPanicsOnANilVerifier(t *testing.T) {
	var client *trustcaptcha.Client // an ignored NewClient error
	defer func() {
		if p := recover(); p == nil {
			t.Fatal("no panic")
		}
	}()
	gincaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client})
}
