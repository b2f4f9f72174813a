package otelcaptcha_test

import (
	"context"
	"net/http"
	"testing"

	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/otelcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

// BenchmarkDecisionPath: the middleware deciding on a header token, bare and
// instrumented (decisions counted and timed, a span per verification, the
// real SDK behind both), with a verifier that answers at once (the
// instrumentation's own cost) and with the real Client asking the fake API
// over loopback (its cost beside the cheapest real verification).
func BenchmarkDecisionPath(b *testing.B) {
	res := &trustcaptcha.Result{VerificationPassed: true, Score: 0.1}
	v := trustcaptcha.VerifierFunc(func(context.Context, string) (*trustcaptcha.Result, error) { return res, nil })
	inst, err := otelcaptcha.New(
		otelcaptcha.WithMeterProvider(sdkmetric.NewMeterProvider(sdkmetric.WithReader(sdkmetric.NewManualReader()))),
		otelcaptcha.WithTracerProvider(sdktrace.NewTracerProvider()), // sampled spans, no exporter: the SDK's own cost
	)
	if err != nil {
		b.Fatal(err)
	}
	api := trustcaptchatest.NewServer()
	defer api.Close()
	client := api.Client() // the real client over loopback: an HTTP round trip a verification
	next := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	for _, c := range []struct {
		name string
		opts trustcaptcha.Options
		tok  string
	}{
		{"verifier=instant/impl=bare", trustcaptcha.Options{Verifier: v, AllowReplay: true}, ""},
		{"verifier=instant/impl=otel", trustcaptcha.Options{Verifier: inst.Verifier(v), OnDecision: inst.OnDecision,
			AllowReplay: true}, ""},
		{"verifier=loopback/impl=bare", trustcaptcha.Options{Verifier: client, AllowReplay: true}, api.Human()},
		{"verifier=loopback/impl=otel", trustcaptcha.Options{Verifier: inst.Verifier(client),
			OnDecision: inst.OnDecision, AllowReplay: true}, api.Human()},
	} {
		h := trustcaptcha.RequireCaptcha(c.opts)(next)
		tok := c.tok
		if tok == "" {
			tok = trustcaptchatest.Token("11111111-1111-4111-8111-111111111111")
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discard{h: http.Header{}}
			r, _ := http.NewRequest(http.MethodPost, "http://shop.example/contact", nil)
			r.Header.Set("X-TC-Verification-Token", tok)
			r.Pattern = "POST /contact"
			for b.Loop() {
				h.ServeHTTP(w, r)
			}
		})
	}
}
