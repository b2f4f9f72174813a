package otelcaptcha_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/contrib/instrumentation/net/http/otelhttp"
	"go.opentelemetry.io/otel/codes"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/otelcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

// rig is the real middleware behind a ServeMux route, instrumented with the
// real OpenTelemetry SDK (a manual metric reader, a span recorder).
type rig struct {
	sent    chan struct{} // a request reached the transport (buffered, never blocks)
	api     *trustcaptchatest.Server
	client  *trustcaptcha.Client
	reader  *sdkmetric.ManualReader
	spans   *tracetest.SpanRecorder
	handler http.Handler
}

func newRig(t *testing.T, failover trustcaptcha.FailoverPolicy, opts ...trustcaptcha.ClientOption) *rig {
	t.Helper()
	r := &rig{api: trustcaptchatest.NewServer(), reader: sdkmetric.NewManualReader(), spans: tracetest.NewSpanRecorder(),
		sent: make(chan struct{}, 100)}
	t.Cleanup(r.api.Close)
	mp := sdkmetric.NewMeterProvider(sdkmetric.WithReader(r.reader))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(r.spans))
	inst, err := otelcaptcha.New(otelcaptcha.WithMeterProvider(mp), otelcaptcha.WithTracerProvider(tp))
	require.NoError(t, err)
	opts = append([]trustcaptcha.ClientOption{trustcaptcha.WithTransportWrapper(func(rt http.RoundTripper) http.RoundTripper {
		traced := otelhttp.NewTransport(rt, otelhttp.WithTracerProvider(tp))
		return roundTrip(func(req *http.Request) (*http.Response, error) {
			select {
			case r.sent <- struct{}{}:
			default:
			}
			return traced.RoundTrip(req)
		})
	})}, opts...)
	r.client = r.api.Client(opts...)
	require.NoError(t, inst.ObserveClient(r.client))
	mux := http.NewServeMux()
	mux.Handle("POST /contact", trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: inst.Verifier(r.client), OnDecision: inst.OnDecision, Failover: failover,
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })))
	r.handler = mux
	return r
}

func (r *rig) send(t *testing.T, token string) int {
	t.Helper()
	return r.sendCtx(t, context.Background(), token)
}

func (r *rig) sendCtx(t *testing.T, ctx context.Context, token string) int {
	t.Helper()
	req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/contact", nil)
	req.Header.Set("X-TC-Verification-Token", token)
	rec := httptest.NewRecorder()
	r.handler.ServeHTTP(rec, req)
	return rec.Code
}

// metrics collects the metrics now, by instrument name.
func (r *rig) metrics(t *testing.T) map[string]metricdata.Metrics {
	t.Helper()
	var rm metricdata.ResourceMetrics
	require.NoError(t, r.reader.Collect(context.Background(), &rm))
	out := map[string]metricdata.Metrics{}
	for _, sm := range rm.ScopeMetrics {
		assert.Equal(t, otelcaptcha.ScopeName, sm.Scope.Name)
		for _, m := range sm.Metrics {
			out[m.Name] = m
		}
	}
	return out
}

// decisions returns the decision counts by "reason admitted failover".
func (r *rig) decisions(t *testing.T) map[string]int64 {
	t.Helper()
	m, ok := r.metrics(t)["trustcaptcha.decisions"]
	if !ok {
		return nil
	}
	assert.Equal(t, "{decision}", m.Unit)
	out := map[string]int64{}
	for _, p := range m.Data.(metricdata.Sum[int64]).DataPoints {
		reason, _ := p.Attributes.Value("trustcaptcha.reason")
		admitted, _ := p.Attributes.Value("trustcaptcha.admitted")
		failover, _ := p.Attributes.Value("trustcaptcha.failover")
		route, _ := p.Attributes.Value("http.route")
		assert.Equal(t, "POST /contact", route.AsString(), "http.route is the request's pattern")
		out[reason.AsString()+" "+admitted.String()+" "+failover.String()] += p.Value
	}
	return out
}

func gauge(t *testing.T, ms map[string]metricdata.Metrics, name string) int64 {
	t.Helper()
	m, ok := ms[name]
	require.True(t, ok, "no %s", name)
	pts := m.Data.(metricdata.Gauge[int64]).DataPoints
	require.Len(t, pts, 1)
	return pts[0].Value
}

// TestDecisionsCounted: a human, a bot, a reused token: every decision
// counted once with its reason and outcome, and its duration recorded.
func TestDecisionsCounted(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	human := r.api.Human()
	assert.Equal(t, http.StatusNoContent, r.send(t, human))
	assert.Equal(t, http.StatusBadRequest, r.send(t, human), "reused")
	assert.Equal(t, http.StatusBadRequest, r.send(t, r.api.Bot()))
	assert.Equal(t, map[string]int64{"passed true false": 1, "token-reused false false": 1,
		"score-too-high false false": 1}, r.decisions(t))

	d := r.metrics(t)["trustcaptcha.decision.duration"]
	assert.Equal(t, "s", d.Unit)
	var n uint64
	for _, p := range d.Data.(metricdata.Histogram[float64]).DataPoints {
		n += p.Count
		assert.Greater(t, p.Sum, 0.0)
	}
	assert.Equal(t, uint64(3), n, "a duration per decision")
}

// TestOutageUnderEachPolicy: an outage is counted as server-unreachable,
// admitted on failover under FailOpen, rejected under FailClosed; after
// the breaker opens its gauge reads 1 and the decisions go on being counted.
func TestOutageUnderEachPolicy(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		policy   trustcaptcha.FailoverPolicy
		outcome  string
		wantCode int
	}{
		{"FailClosed", trustcaptcha.FailClosed, "server-unreachable false false", http.StatusBadRequest},
		{"FailOpen", trustcaptcha.FailOpen, "server-unreachable true true", http.StatusNoContent},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newRig(t, tc.policy, trustcaptcha.WithBreaker(2, time.Hour))
			r.api.Down(http.StatusServiceUnavailable)
			assert.Equal(t, int64(0), gauge(t, r.metrics(t), "trustcaptcha.client.breaker.open"))
			for range 4 { // two open the breaker, two more meet it open
				assert.Equal(t, tc.wantCode, r.send(t, r.api.Human()))
			}
			assert.Equal(t, map[string]int64{tc.outcome: 4}, r.decisions(t))
			assert.Equal(t, int64(1), gauge(t, r.metrics(t), "trustcaptcha.client.breaker.open"))
			assert.Equal(t, int64(0), gauge(t, r.metrics(t), "trustcaptcha.client.in_flight"))
		})
	}
}

// TestVerifySpans: one span per verification, the API call its child
// through otelhttp, the reason of the outcome, and status Error for an
// error, without the token in any attribute.
func TestVerifySpans(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	human, bot := r.api.Human(), r.api.Bot()
	r.send(t, human)
	r.send(t, bot)
	r.api.Down(http.StatusServiceUnavailable)
	r.send(t, r.api.Human())

	var verify, calls []sdktrace.ReadOnlySpan
	for _, s := range r.spans.Ended() {
		if s.Name() == "trustcaptcha.verify" {
			verify = append(verify, s)
		} else {
			calls = append(calls, s)
		}
	}
	require.Len(t, verify, 3, "one span per verification")
	require.Len(t, calls, 3, "one HTTP call each")
	reasons := []string{}
	for i, s := range verify {
		assert.Equal(t, trace.SpanKindInternal, s.SpanKind())
		assert.Equal(t, s.SpanContext().SpanID(), calls[i].Parent().SpanID(), "the API call is its child")
		for _, a := range s.Attributes() {
			if a.Key == "trustcaptcha.reason" {
				reasons = append(reasons, a.Value.AsString())
			}
			assert.NotContains(t, a.Value.String(), human)
		}
	}
	assert.Equal(t, []string{"passed", "passed", "server-unreachable"}, reasons,
		"a bot's result is a result: the middleware judges its score")
	assert.Equal(t, codes.Unset, verify[0].Status().Code)
	assert.Equal(t, codes.Error, verify[2].Status().Code)
	assert.NotContains(t, verify[2].Status().Description, r.api.APIKey())
}

// TestInFlightGauge: the gauge follows the verifications waiting on the API.
func TestInFlightGauge(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	tok := r.api.Human()
	r.api.Hang(tok)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	go func() { done <- r.sendCtx(t, ctx, tok) }()
	<-r.sent // it holds its in-flight slot from before it reached the transport
	assert.Equal(t, int64(1), gauge(t, r.metrics(t), "trustcaptcha.client.in_flight"))
	cancel() // the visitor goes away
	<-done
	assert.Equal(t, int64(0), gauge(t, r.metrics(t), "trustcaptcha.client.in_flight"))
}

// TestObserveOneClient: a second Client, or a nil one, is an error.
func TestObserveOneClient(t *testing.T) {
	t.Parallel()
	inst, err := otelcaptcha.New(otelcaptcha.WithMeterProvider(sdkmetric.NewMeterProvider()))
	require.NoError(t, err)
	api := trustcaptchatest.NewServer()
	t.Cleanup(api.Close)
	assert.Error(t, inst.ObserveClient(nil))
	require.NoError(t, inst.ObserveClient(api.Client()))
	assert.Error(t, inst.ObserveClient(api.Client()))
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestGatewayFailoverMarked: decisions that had a result say whether the API
// decided it in its gateway failover; decisions without one leave it out.
func TestGatewayFailoverMarked(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	gateway := r.api.Add(trustcaptcha.Result{VerificationPassed: true, Score: 0.1,
		GatewayFailoverActive: true, DecisionType: "FAILOVER"})
	assert.Equal(t, http.StatusNoContent, r.send(t, gateway))
	assert.Equal(t, http.StatusNoContent, r.send(t, r.api.Human()))
	assert.Equal(t, http.StatusBadRequest, r.send(t, "not a token"))
	got := map[string]string{}
	for _, p := range r.metrics(t)["trustcaptcha.decisions"].Data.(metricdata.Sum[int64]).DataPoints {
		reason, _ := p.Attributes.Value("trustcaptcha.reason")
		v, ok := p.Attributes.Value("trustcaptcha.gateway_failover")
		mark := "absent"
		if ok {
			mark = v.String()
		}
		got[reason.AsString()+" "+mark] += ""
		assert.Equal(t, int64(1), p.Value)
	}
	assert.Equal(t, map[string]string{"passed true": "", "passed false": "", "token-invalid absent": ""}, got)
}

// TestNotRequiredCounted: a request that Options.Required let through
// without a CAPTCHA is counted as admitted with the reason not-required, not
// as failover, and one it asks a CAPTCHA for is counted as token-missing.
func TestNotRequiredCounted(t *testing.T) {
	t.Parallel()
	r := newRig(t, nil)
	r.reader = sdkmetric.NewManualReader() // these decisions only
	inst, err := otelcaptcha.New(otelcaptcha.WithMeterProvider(sdkmetric.NewMeterProvider(
		sdkmetric.WithReader(r.reader))))
	require.NoError(t, err)
	su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 1, Per: time.Hour})
	mux := http.NewServeMux()
	mux.Handle("POST /contact", trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: r.client, OnDecision: inst.OnDecision, Required: su.Required,
	})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) })))
	r.handler = mux
	assert.Equal(t, http.StatusNoContent, r.send(t, ""), "the first without a CAPTCHA")
	assert.Equal(t, http.StatusBadRequest, r.send(t, ""), "the second must carry one")
	assert.Equal(t, http.StatusNoContent, r.send(t, r.api.Human()), "and passes with one")
	assert.Equal(t, map[string]int64{"not-required true false": 1, "token-missing false false": 1,
		"passed true false": 1}, r.decisions(t))
}
