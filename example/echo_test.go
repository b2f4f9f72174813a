package main

// Echo v4 and v5 need no module of their own: echo.WrapMiddleware around
// RequireCaptcha keeps every guarantee (routertest's cases), because both
// majors set the request the core passed on and call the chain only when it
// admits.

import (
	"fmt"
	"io"
	"net/http"
	"testing"

	echo4 "github.com/labstack/echo/v4"
	echo5 "github.com/labstack/echo/v5"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/internal/routertest"
)

func TestEchoV4(t *testing.T) {
	routertest.Run(t, func(opts trustcaptcha.Options, later func()) http.Handler {
		e := echo4.New()
		laterMW := func(next echo4.HandlerFunc) echo4.HandlerFunc {
			return func(c echo4.Context) error { later(); return next(c) }
		}
		captcha := echo4.WrapMiddleware(trustcaptcha.RequireCaptcha(opts))
		e.POST("/form", func(c echo4.Context) error {
			return c.String(http.StatusOK, "name="+c.FormValue("name")+routertest.Describe(c.Request()))
		}, captcha, laterMW)
		e.POST("/json", func(c echo4.Context) error {
			var body struct {
				Name string `json:"name"`
			}
			if err := c.Bind(&body); err != nil {
				return err
			}
			return c.String(http.StatusOK, "name="+body.Name+routertest.Describe(c.Request()))
		}, captcha, laterMW)
		e.POST("/upload", func(c echo4.Context) error {
			fh, err := c.FormFile("file")
			if err != nil {
				return err
			}
			b, err := readFile(fh.Open)
			if err != nil {
				return err
			}
			return c.String(http.StatusOK, "file="+b+routertest.Describe(c.Request()))
		}, captcha, laterMW)
		skipping := opts
		skipping.Skip = trustcaptcha.SkipSafeMethods
		page := e.Group("/page", echo4.WrapMiddleware(trustcaptcha.RequireCaptcha(skipping)))
		page.GET("", func(c echo4.Context) error { return c.String(http.StatusOK, "page") })
		page.POST("", func(c echo4.Context) error {
			return c.String(http.StatusOK, "name="+c.FormValue("name")+routertest.Describe(c.Request()))
		})
		return e
	})
}

func TestEchoV5(t *testing.T) {
	routertest.Run(t, func(opts trustcaptcha.Options, later func()) http.Handler {
		e := echo5.New()
		laterMW := func(next echo5.HandlerFunc) echo5.HandlerFunc {
			return func(c *echo5.Context) error { later(); return next(c) }
		}
		captcha := echo5.WrapMiddleware(trustcaptcha.RequireCaptcha(opts))
		e.POST("/form", func(c *echo5.Context) error {
			return c.String(http.StatusOK, "name="+c.FormValue("name")+routertest.Describe(c.Request()))
		}, captcha, laterMW)
		e.POST("/json", func(c *echo5.Context) error {
			var body struct {
				Name string `json:"name"`
			}
			if err := c.Bind(&body); err != nil {
				return err
			}
			return c.String(http.StatusOK, "name="+body.Name+routertest.Describe(c.Request()))
		}, captcha, laterMW)
		e.POST("/upload", func(c *echo5.Context) error {
			fh, err := c.FormFile("file")
			if err != nil {
				return err
			}
			b, err := readFile(fh.Open)
			if err != nil {
				return err
			}
			return c.String(http.StatusOK, "file="+b+routertest.Describe(c.Request()))
		}, captcha, laterMW)
		skipping := opts
		skipping.Skip = trustcaptcha.SkipSafeMethods
		page := e.Group("/page", echo5.WrapMiddleware(trustcaptcha.RequireCaptcha(skipping)))
		page.GET("", func(c *echo5.Context) error { return c.String(http.StatusOK, "page") })
		page.POST("", func(c *echo5.Context) error {
			return c.String(http.StatusOK, "name="+c.FormValue("name")+routertest.Describe(c.Request()))
		})
		return e
	})
}

// readFile reads an uploaded file whole.
func readFile[F io.ReadCloser](open func() (F, error)) (string, error) {
	f, err := open()
	if err != nil {
		return "", fmt.Errorf("open: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	return string(b), err
}
