package trustcaptchatest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"time"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

// A fake API for a test: tokens for any result, forced answers, and a record
// of what it received.
func ExampleNewServer() {
	api := trustcaptchatest.NewServer()
	defer api.Close()
	client := api.Client(trustcaptcha.WithTimeout(time.Second)) // NewClient(api.APIKey(), WithAPIHost(api.URL), …)
	ctx := context.Background()

	res, _ := client.Verify(ctx, api.Human())
	fmt.Println("human:", res.VerificationPassed, res.Score)

	res, _ = client.Verify(ctx, api.Add(trustcaptcha.Result{VerificationPassed: true, Score: 0.95, CountryCode: "CH"}))
	fmt.Println("custom:", res.Score, res.CountryCode)

	_, err := client.Verify(ctx, trustcaptchatest.ClientFailoverToken())
	fmt.Println("forged failover:", errors.Is(err, trustcaptcha.ErrClientReportedFailover))

	slow := api.Human()
	api.ForceStatus(slow, http.StatusBadGateway)
	_, err = client.Verify(ctx, slow)
	fmt.Println("502:", errors.Is(err, trustcaptcha.ErrServerUnreachable))

	fmt.Println(
		"requests:",
		len(api.Requests()),
		"bearer ok:",
		api.Requests()[0].Header.Get("Authorization") == "Bearer "+api.APIKey(),
	)
	// Output:
	// human: true 0.1
	// custom: 0.95 CH
	// forged failover: true
	// 502: true
	// requests: 4 bearer ok: true
}

// Testing your own handler behind RequireCaptcha: a fresh token of each kind,
// in a form POST or a JSON POST, in a few lines.
func ExampleServer_NewFormRequest() {
	api := trustcaptchatest.NewServer()
	defer api.Close()
	contact := func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "thanks,", r.FormValue("name")) }
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: api.Client()})(http.HandlerFunc(contact))

	for _, kind := range []trustcaptchatest.Kind{trustcaptchatest.Human, trustcaptchatest.Bot, trustcaptchatest.Failed} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, api.NewFormRequest("/contact", kind, url.Values{"name": {"Ada"}}))
		fmt.Println(kind, rec.Code)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, api.NewJSONRequest("/contact", trustcaptchatest.ClientFailover, nil))
	fmt.Println("client failover", rec.Code)
	// Output:
	// human 200
	// bot 400
	// failed 400
	// client failover 400
}
