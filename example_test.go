package trustcaptcha_test

// Testable examples for the package documentation.

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
	"github.com/go-chi/chi/v5"
)

// NewClient with the secret key from the TrustCaptcha dashboard; here pointed
// at the fake API so the example runs offline.
func ExampleNewClient() {
	api := trustcaptchatest.NewServer()
	defer api.Close()

	client, err := trustcaptcha.NewClient(api.APIKey(),
		trustcaptcha.WithAPIHost(api.URL), // default https://api.trustcomponent.com
		trustcaptcha.WithTimeout(3*time.Second),
	)
	if err != nil {
		log.Fatal(err)
	}
	res, err := client.Verify(context.Background(), api.Human())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.VerificationPassed, res.Score)

	_, err = client.Verify(context.Background(), trustcaptchatest.Token(trustcaptchatest.NotFoundVerificationID))
	fmt.Println(errors.Is(err, trustcaptcha.ErrVerificationNotFound), trustcaptcha.Reason(err))
	// Output:
	// true 0.1
	// true verification-not-found
}

// The fake API registers verifications with any result and forces any
// answer, for testing an application without an account.
func Example_fakeAPI() {
	api := trustcaptchatest.NewServer()
	defer api.Close()
	client := api.Client()
	ctx := context.Background()

	token := api.Add(trustcaptcha.Result{VerificationPassed: true, Score: 0.7, Origin: "https://shop.example"})
	res, _ := client.Verify(ctx, token)
	fmt.Println(res.Score, res.Origin)

	down := api.Human()
	api.ForceStatus(down, http.StatusServiceUnavailable)
	_, err := client.Verify(ctx, down)
	fmt.Println(errors.Is(err, trustcaptcha.ErrServerUnreachable))
	fmt.Println(len(api.Requests()), "requests received")
	// Output:
	// 0.7 https://shop.example
	// true
	// 2 requests received
}

// Protecting a form route and a JSON route in the standard ServeMux.
func ExampleRequireCaptcha_serveMux() {
	api := trustcaptchatest.NewServer()
	defer api.Close()

	captcha := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client()})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /contact", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "<form>…</form>") })
	mux.Handle("POST /contact", captcha(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		res, _ := trustcaptcha.ResultFromContext(r.Context())
		fmt.Fprintf(w, "thanks %s (score %.1f)", r.FormValue("name"), res.Score)
	})))

	post := func(token string) {
		body := url.Values{"name": {"Ada"}, "tc-verification-token": {token}}.Encode()
		r := httptest.NewRequest(http.MethodPost, "/contact", strings.NewReader(body))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, r)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	post(api.Human())
	post(api.Bot())
	// Output:
	// 200 thanks Ada (score 0.1)
	// 400 CAPTCHA verification failed: The CAPTCHA verification did not pass. (score-too-high)
}

// Protecting a chi router group that serves both the page and its form's
// POST, and a single JSON route with With.
func ExampleRequireCaptcha_chi() {
	api := trustcaptchatest.NewServer()
	defer api.Close()
	client := api.Client()

	r := chi.NewRouter()
	r.Group(func(r chi.Router) {
		r.Use(trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client, Skip: trustcaptcha.SkipSafeMethods}))
		r.Get("/contact", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "the form") })
		r.Post("/contact", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "sent") })
	})
	r.With(trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: client})).
		Post("/api/signup", func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body) // the JSON body is still here
			fmt.Fprintf(w, "got %d bytes", len(body))
		})

	send := func(method, path, ct, body string) {
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		r.ServeHTTP(rec, req)
		fmt.Println(method, path, rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	send("GET", "/contact", "", "")
	send("POST", "/contact", "application/x-www-form-urlencoded", "tc-verification-token="+url.QueryEscape(api.Human()))
	send("POST", "/api/signup", "application/json", `{"email":"ada@example.com"}`)
	// Output:
	// GET /contact 200 the form
	// POST /contact 200 sent
	// POST /api/signup 400 {"type":"https://pkg.go.dev/github.com/captchakit/trustcaptcha#Reason","title":"CAPTCHA verification failed","status":400,"detail":"The request carries no CAPTCHA verification token. The server looked for the form field or JSON member \"tc-verification-token\" and the X-TC-Verification-Token header.","reason":"token-missing"}
}

// Failing open during an API outage, at most 100 admissions a minute, and
// telling the handler so it can add friction.
func ExampleLimitFailover() {
	api := trustcaptchatest.NewServer()
	defer api.Close()
	api.Down(http.StatusServiceUnavailable) // the API is in trouble

	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: api.Client(),
		Failover: trustcaptcha.LimitFailover(trustcaptcha.FailOpen, 100, time.Minute),
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if trustcaptcha.AdmittedByFailover(r.Context()) {
			io.WriteString(w, "accepted for moderation")
			return
		}
		io.WriteString(w, "accepted")
	}))
	r := httptest.NewRequest(http.MethodPost, "/contact", nil)
	r.Header.Set("X-TC-Verification-Token", api.Human())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	fmt.Println(rec.Code, rec.Body.String())
	// Output: 200 accepted for moderation
}

// One callback per decision feeds logs or metrics; ReportOnly lets a new
// deployment watch decisions before enforcing them.
// A custom failover policy: members are admitted during an outage; everyone
// else shares a budget, whose cause (failover-limit-reached) the Decision
// keeps once it is spent.
func ExampleFailoverFunc() {
	api := trustcaptchatest.NewServer()
	defer api.Close()
	api.Down(http.StatusServiceUnavailable)

	guests := trustcaptcha.LimitFailover(trustcaptcha.FailOpen, 1, time.Hour)
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: api.Client(),
		Failover: trustcaptcha.FailoverFunc(func(r *http.Request, err error) error {
			if r.Header.Get("X-Member") == "yes" { // your session check
				return nil
			}
			return guests.Admit(r, err)
		}),
		Logger: slog.New(slog.DiscardHandler),
		OnDecision: func(r *http.Request, d trustcaptcha.Decision) {
			fmt.Println(r.Header.Get("X-Member"), d.Admitted, d.Reason)
		},
	})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for _, member := range []string{"yes", "no", "no"} {
		r := httptest.NewRequest(http.MethodPost, "/contact", nil)
		r.Header.Set("X-TC-Verification-Token", api.Human())
		r.Header.Set("X-Member", member)
		h.ServeHTTP(httptest.NewRecorder(), r)
	}
	// Output:
	// yes true server-unreachable
	// no true server-unreachable
	// no false failover-limit-reached
}

func ExampleOptions_onDecision() {
	logger := slog.New(slog.NewTextHandler(io.Discard, nil)) // your logger
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: trustcaptcha.VerifierFunc(func(context.Context, string) (*trustcaptcha.Result, error) {
			return &trustcaptcha.Result{VerificationPassed: true, Score: 0.8}, nil
		}),
		ReportOnly: true,
		OnDecision: func(r *http.Request, d trustcaptcha.Decision) {
			logger.Info(
				"captcha",
				"path",
				r.URL.Path,
				"admitted",
				d.Admitted,
				"reason",
				d.Reason,
				"score",
				d.Score,
				"latency",
				d.Latency,
			)
			fmt.Println(d.Admitted, d.Reason, d.Score, d.ReportOnly)
		},
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	r := httptest.NewRequest(http.MethodPost, "/signup", nil)
	r.Header.Set("X-TC-Verification-Token", trustcaptchatest.Token(trustcaptchatest.PassingVerificationID))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	fmt.Println(rec.Code)
	// Output:
	// false score-too-high 0.8 true
	// 200
}

// A login that asks for the CAPTCHA only after two tries from one address:
// Options.Required lets a request without a token through while its client
// is under After, and asks for one beyond.
func ExampleNewStepUp() {
	api := trustcaptchatest.NewServer() // in production: trustcaptcha.NewClient(apiKey)
	defer api.Close()
	su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 2, Per: 15 * time.Minute, Name: "login"})
	login := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client(), Required: su.Required})(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			d, _ := trustcaptcha.DecisionFromContext(r.Context())
			fmt.Fprintf(w, "checking the password (%s)", d.Reason)
		}))
	try := func(r *http.Request) {
		r.RemoteAddr = "203.0.113.7:4242"
		rec := httptest.NewRecorder()
		login.ServeHTTP(rec, r)
		fmt.Println(rec.Code, strings.TrimSpace(rec.Body.String()))
	}
	for range 3 {
		r := httptest.NewRequest(http.MethodPost, "/login", strings.NewReader("user=ada&password=guess"))
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		try(r)
	}
	try(api.NewFormRequest("/login", trustcaptchatest.Human, url.Values{"user": {"ada"}}))
	// Output:
	// 200 checking the password (not-required)
	// 200 checking the password (not-required)
	// 400 CAPTCHA verification failed: The request carries no CAPTCHA verification token. The server looked for the form field or JSON member "tc-verification-token" and the X-TC-Verification-Token header. (token-missing)
	// 200 checking the password (passed)
}
