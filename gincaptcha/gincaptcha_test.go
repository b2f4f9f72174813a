package gincaptcha_test

import (
	"bytes"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/gincaptcha"
	"github.com/captchakit/trustcaptcha/internal/routertest"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
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

// TestAccessorsTakeTheGinContext: in a handler written the natural way, with
// the *gin.Context, gincaptcha's accessors see the decision on an engine
// without ContextWithFallback, where the core's, handed c itself, see none.
func TestAccessorsTakeTheGinContext(t *testing.T) {
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	r := gin.New() // ContextWithFallback is false by default
	captcha := gincaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client(),
		Failover: trustcaptcha.FailOpen, Logger: slog.New(slog.DiscardHandler)})
	r.POST("/form", captcha, func(c *gin.Context) {
		d, ok := gincaptcha.DecisionFromContext(c)
		_, passed := gincaptcha.ResultFromContext(c)
		c.String(http.StatusOK, "decision=%v/%s result=%v failover=%v core-with-c=%v",
			ok, d.Reason, passed, gincaptcha.AdmittedByFailover(c), trustcaptcha.AdmittedByFailover(c))
	})
	for kind, want := range map[trustcaptchatest.Kind]string{
		trustcaptchatest.Human:       "decision=true/passed result=true failover=false core-with-c=false",
		trustcaptchatest.Unreachable: "decision=true/server-unreachable result=false failover=true core-with-c=false",
	} {
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, api.NewFormRequest("/form", kind, url.Values{"name": {"Ada"}}))
		assert.Equal(t, want, rec.Body.String(), kind)
	}
}

// TestErrorHandlerParseLeavesNoTempFiles: through Gin too, an ErrorHandler
// that parses the rejected multipart form leaves no temporary file. Not
// parallel: it owns $TMPDIR.
func TestErrorHandlerParseLeavesNoTempFiles(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	r := gin.New()
	r.POST("/upload", gincaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: api.Client(), Logger: slog.New(slog.DiscardHandler),
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			assert.NoError(t, r.ParseMultipartForm(32<<10)) // the file goes to $TMPDIR
			trustcaptcha.DefaultErrorHandler(w, r, err)
		},
	}), func(c *gin.Context) { t.Error("the handler ran") })

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", "big.bin")
	require.NoError(t, err)
	_, err = fw.Write(make([]byte, 200<<10))
	require.NoError(t, err)
	require.NoError(t, mw.Close())
	req := httptest.NewRequest(http.MethodPost, "/upload", &body) // no token
	req.Header.Set("Content-Type", mw.FormDataContentType())
	rec := httptest.NewRecorder()
	r.ServeHTTP(rec, req)
	assert.Equal(t, http.StatusBadRequest, rec.Code)
	left, err := os.ReadDir(tmp)
	require.NoError(t, err)
	assert.Empty(t, left, "temporary files left behind")
}

// TestStepUpLogin: Options.Required works through Gin unchanged: a few
// logins without a CAPTCHA reach the handler, then the chain is aborted until
// the request carries one, which the handler then sees verified.
func TestStepUpLogin(t *testing.T) {
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 2, Per: time.Hour, Name: "login"})
	r := gin.New()
	r.POST("/login", gincaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client(),
		Required: su.Required, Logger: slog.New(slog.DiscardHandler)}), func(c *gin.Context) {
		_, verified := gincaptcha.ResultFromContext(c)
		if !verified && su.RequiredFor(c.Request, c.PostForm("user")) {
			c.String(http.StatusBadRequest, "solve the CAPTCHA")
			return
		}
		if c.PostForm("password") != "right" {
			c.String(http.StatusUnauthorized, "wrong password (verified %v)", verified)
			return
		}
		c.String(http.StatusOK, "welcome (verified %v)", verified)
	})
	login := func(password string, kind *trustcaptchatest.Kind) *httptest.ResponseRecorder {
		form := url.Values{"user": {"ada"}, "password": {password}}
		var req *http.Request
		if kind != nil {
			req = api.NewFormRequest("/login", *kind, form)
		} else {
			req = httptest.NewRequest(http.MethodPost, "/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		return rec
	}
	for range 2 {
		rec := login("wrong", nil)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, "without a CAPTCHA at first")
		assert.Equal(t, "wrong password (verified false)", rec.Body.String())
	}
	rec := login("right", nil)
	assert.Equal(t, http.StatusBadRequest, rec.Code, "the third must carry a CAPTCHA")
	assert.Contains(t, rec.Body.String(), "token-missing", "the core's answer; the handler did not run")
	human := trustcaptchatest.Human
	rec = login("right", &human)
	assert.Equal(t, http.StatusOK, rec.Code)
	assert.Equal(t, "welcome (verified true)", rec.Body.String())
}
