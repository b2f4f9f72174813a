// Package otelcaptcha records what RequireCaptcha decides as OpenTelemetry
// metrics and traces: every decision counted and timed with its reason, a
// span around each verification, and the Client's in-flight count and
// breaker state as gauges. It depends on the OpenTelemetry API only, so it
// records nothing until the program installs an SDK with an exporter
// (otel.SetMeterProvider with a Prometheus or OTLP reader,
// otel.SetTracerProvider for the spans), or passes providers to New; the
// repository's README shows it with Prometheus.
//
//	inst, err := otelcaptcha.New() // the global MeterProvider and TracerProvider
//	client, err := trustcaptcha.NewClient(key)
//	err = inst.ObserveClient(client)
//	captcha := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
//		Verifier:   inst.Verifier(client),
//		OnDecision: inst.OnDecision,
//	})
//
// The instruments (scope: this module's path), as OpenTelemetry names them
// and as its Prometheus exporter shows them:
//
//	trustcaptcha.decisions                {decision}      counter    trustcaptcha_decisions_total
//	trustcaptcha.decision.duration        s               histogram  trustcaptcha_decision_duration_seconds
//	trustcaptcha.client.in_flight         {verification}  gauge      trustcaptcha_client_in_flight
//	trustcaptcha.client.breaker.open      (1 open, 0 closed) gauge   trustcaptcha_client_breaker_open
//
// The decision instruments carry trustcaptcha.reason (the Decision's Reason,
// such as "passed" or "score-too-high"), trustcaptcha.admitted,
// trustcaptcha.failover (admitted by the failover policy), on decisions that
// had a result trustcaptcha.gateway_failover (the API decided it in its own
// gateway failover: Result.GatewayFailoverActive), and http.route (the
// request's Pattern, which http.ServeMux and chi set; left out when a router
// leaves it empty). The span trustcaptcha.verify
// (kind internal) carries trustcaptcha.reason of its outcome and, on an
// error, status Error with the error's text, which never holds the token or
// the key. With the Client's transport wrapped by otelhttp
// (trustcaptcha.WithTransportWrapper), the API call is its child span.
package otelcaptcha

import (
	"context"
	"errors"
	"net/http"
	"sync"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/captchakit/trustcaptcha"
)

// ScopeName is the instrumentation scope of the meter and the tracer: this
// module's path.
const ScopeName = "github.com/captchakit/trustcaptcha/otelcaptcha"

// Instrumentation records decisions, verifications and a Client's state. Make
// one with New; it is safe for concurrent use. The zero value is not usable.
type Instrumentation struct {
	decisions metric.Int64Counter
	duration  metric.Float64Histogram
	inFlight  metric.Int64ObservableGauge
	open      metric.Int64ObservableGauge
	meter     metric.Meter
	tracer    trace.Tracer

	sets sync.Map // setKey → metric.MeasurementOption

	mu       sync.Mutex
	observed bool
}

// Option configures New.
type Option func(*config)

type config struct {
	mp metric.MeterProvider
	tp trace.TracerProvider
}

// WithMeterProvider sets the MeterProvider. Nil, or no option, means
// otel.GetMeterProvider() at the time New is called.
func WithMeterProvider(mp metric.MeterProvider) Option { return func(c *config) { c.mp = mp } }

// WithTracerProvider sets the TracerProvider. Nil, or no option, means
// otel.GetTracerProvider() at the time New is called.
func WithTracerProvider(tp trace.TracerProvider) Option { return func(c *config) { c.tp = tp } }

// durationBuckets suit a verification: tens of milliseconds when healthy, up
// to the Client's timeout (5 s by default) when not.
var durationBuckets = []float64{0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10}

// New creates the instruments. It fails only when the MeterProvider rejects
// one of them.
func New(opts ...Option) (*Instrumentation, error) {
	var c config
	for _, o := range opts {
		if o != nil {
			o(&c)
		}
	}
	if c.mp == nil {
		c.mp = otel.GetMeterProvider()
	}
	if c.tp == nil {
		c.tp = otel.GetTracerProvider()
	}
	i := &Instrumentation{meter: c.mp.Meter(ScopeName), tracer: c.tp.Tracer(ScopeName)}
	var errs [4]error
	i.decisions, errs[0] = i.meter.Int64Counter("trustcaptcha.decisions", metric.WithUnit("{decision}"),
		metric.WithDescription("Requests RequireCaptcha decided on, by reason and outcome."))
	i.duration, errs[1] = i.meter.Float64Histogram("trustcaptcha.decision.duration", metric.WithUnit("s"),
		metric.WithDescription("Time spent reading the token and verifying it."),
		metric.WithExplicitBucketBoundaries(durationBuckets...))
	i.inFlight, errs[2] = i.meter.Int64ObservableGauge("trustcaptcha.client.in_flight",
		metric.WithUnit("{verification}"), metric.WithDescription("Verifications waiting on the TrustCaptcha API."))
	i.open, errs[3] = i.meter.Int64ObservableGauge("trustcaptcha.client.breaker.open",
		metric.WithDescription("1 while the Client's outage breaker is open, 0 while it is closed."))
	if err := errors.Join(errs[:]...); err != nil {
		return nil, err
	}
	return i, nil
}

// OnDecision records d: one count of trustcaptcha.decisions and its latency
// in trustcaptcha.decision.duration. Use it as Options.OnDecision (or call it
// from yours).
func (i *Instrumentation) OnDecision(r *http.Request, d trustcaptcha.Decision) {
	k := setKey{d.Reason, d.Admitted, d.Failover, gatewayNone, r.Pattern}
	if d.Result != nil {
		k.gateway = gatewayOff
		if d.Result.GatewayFailoverActive {
			k.gateway = gatewayOn
		}
	}
	set, ok := i.sets.Load(k)
	if !ok { // a few dozen reasons and outcomes, times the routes: made once each
		attrs := []attribute.KeyValue{
			attribute.String("trustcaptcha.reason", d.Reason),
			attribute.Bool("trustcaptcha.admitted", d.Admitted),
			attribute.Bool("trustcaptcha.failover", d.Failover),
		}
		if k.gateway != gatewayNone {
			attrs = append(attrs, attribute.Bool("trustcaptcha.gateway_failover", k.gateway == gatewayOn))
		}
		if r.Pattern != "" {
			attrs = append(attrs, attribute.String("http.route", r.Pattern))
		}
		set, _ = i.sets.LoadOrStore(k, metric.WithAttributeSet(attribute.NewSet(attrs...)))
	}
	opt := set.(metric.MeasurementOption)
	i.decisions.Add(r.Context(), 1, opt)
	i.duration.Record(r.Context(), d.Latency.Seconds(), opt)
}

// setKey names one attribute set of the decision instruments.
type setKey struct {
	reason             string
	admitted, failover bool
	gateway            gatewayState
	route              string
}

// gatewayState is trustcaptcha.gateway_failover of a decision: absent
// without a result, else false or true.
type gatewayState uint8

const (
	gatewayNone gatewayState = iota
	gatewayOff
	gatewayOn
)

// Verifier returns v wrapped in a span named trustcaptcha.verify around each
// Verify, with trustcaptcha.reason of its outcome ("passed" for a result,
// whatever the result says; the error's reason otherwise).
func (i *Instrumentation) Verifier(v trustcaptcha.Verifier) trustcaptcha.Verifier {
	return trustcaptcha.VerifierFunc(func(ctx context.Context, token string) (*trustcaptcha.Result, error) {
		ctx, span := i.tracer.Start(ctx, "trustcaptcha.verify", trace.WithSpanKind(trace.SpanKindInternal))
		defer span.End()
		res, err := v.Verify(ctx, token)
		span.SetAttributes(attribute.String("trustcaptcha.reason", trustcaptcha.Reason(err)))
		if err != nil {
			span.RecordError(err)
			span.SetStatus(codes.Error, err.Error())
		}
		return res, err
	})
}

// ObserveClient reports c's state through the gauges
// trustcaptcha.client.in_flight and trustcaptcha.client.breaker.open, read
// from c.Stats() at each collection. An Instrumentation observes one Client
// (the gauges carry no attribute to tell two apart): a second call is an
// error, as is a nil c.
func (i *Instrumentation) ObserveClient(c *trustcaptcha.Client) error {
	if c == nil {
		return errors.New("otelcaptcha: ObserveClient: nil *trustcaptcha.Client")
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.observed {
		return errors.New("otelcaptcha: ObserveClient: this Instrumentation observes a Client already")
	}
	_, err := i.meter.RegisterCallback(func(_ context.Context, o metric.Observer) error {
		s := c.Stats()
		open := int64(0)
		if s.BreakerOpen {
			open = 1
		}
		o.ObserveInt64(i.inFlight, int64(s.InFlight))
		o.ObserveInt64(i.open, open)
		return nil
	}, i.inFlight, i.open)
	if err == nil {
		i.observed = true
	}
	return err
}
