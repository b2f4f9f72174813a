// Command loadtest measures the whole stack under load on this machine: a
// real server with RequireCaptcha, the Client, and a fake TrustCaptcha API
// over TLS (HTTP/1.1 or HTTP/2) that answers after a fixed latency. Every
// server listens on 127.0.0.1.
//
//	go run ./loadtest                     # every scenario, about 4 minutes
//	go run ./loadtest -scenario throughput -duration 3s
//
// Scenarios:
//   - throughput: 16, 64 and 256 verifications in flight, for this package's
//     Client, a naive one (http.DefaultTransport's settings) and a
//     hand-tuned transport: throughput as a fraction of the in-flight/latency
//     limit, p50/p99 latency, connections per 1,000 verifications, new
//     connections per in-flight slot per 10,000 verifications after warm-up,
//     peak goroutines.
//   - dead: the pooled connections die without a reset while new ones work,
//     under a closed loop of 16 visitors and under open-loop arrivals of 20
//     a second; how long until verifications pass again.
//   - outage: 2,500 requests a second arrive while the API accepts
//     connections and never answers, then it recovers: peak goroutines,
//     connections dialled, latency before and after the breaker opens, time
//     to recover, goroutines left afterwards.
//
// BENCHMARKS.md records its output.
package main

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/internal/silentproxy"
)

// clientTimeout is the Client's default timeout of one whole Verify call.
const clientTimeout = 5 * time.Second

var (
	latency      = flag.Duration("latency", 20*time.Millisecond, "the fake API's answer latency")
	duration     = flag.Duration("duration", 3*time.Second, "measured time of each throughput run (after 1 s of warm-up)")
	scenario     = flag.String("scenario", "all", "throughput, dead, outage, blip, churn or all")
	onlyInFlight = flag.Int("inflight", 0, "throughput: only this many in flight (default 16, 64 and 256)")
	cpuProf      = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
)

func main() {
	flag.Parse()
	if *cpuProf != "" {
		f, err := os.Create(*cpuProf)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	fmt.Printf("loadtest: GOMAXPROCS=%d, API latency %v, %s\n", runtime.GOMAXPROCS(0), *latency, runtime.Version())
	run := func(name string, f func()) {
		if *scenario == "all" || *scenario == name {
			f()
		}
	}
	run("throughput", throughput)
	run("dead", deadConnections)
	run("outage", outage)
	run("blip", blips)
	run("churn", churn)
}

// fakeAPI is a TLS TrustCaptcha API that answers every result request after
// its latency, or, while hung, never.
type fakeAPI struct {
	*httptest.Server
	latency  time.Duration
	conns    atomic.Int64 // connections accepted
	active   atomic.Int64 // requests being answered
	peak     atomic.Int64 // the most requests answered at once
	hung     atomic.Bool
	release  chan struct{} // closed to end hung requests
	every5xx int64         // when > 0, every every5xx-th request is answered 503
	served   atomic.Int64
}

func newFakeAPI(h2 bool, latency time.Duration) *fakeAPI {
	a := &fakeAPI{latency: latency, release: make(chan struct{})}
	a.Server = httptest.NewUnstartedServer(http.HandlerFunc(a.serve))
	a.EnableHTTP2 = h2
	a.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			a.conns.Add(1)
		}
	}
	a.Config.ErrorLog = quiet
	a.StartTLS()
	return a
}

func (a *fakeAPI) serve(w http.ResponseWriter, r *http.Request) {
	n := a.active.Add(1)
	defer a.active.Add(-1)
	for p := a.peak.Load(); n > p && !a.peak.CompareAndSwap(p, n); p = a.peak.Load() {
	}
	if a.hung.Load() {
		select {
		case <-r.Context().Done():
			return
		case <-a.release: // recovered: answer as usual
		}
	}
	time.Sleep(a.latency)
	if a.every5xx > 0 && a.served.Add(1)%a.every5xx == 0 {
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/v2/verifications/"), "/results")
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"verificationId":%q,"verificationPassed":true,"score":0.1,"resultExpiresAt":%q}`,
		id, time.Now().Add(5*time.Minute).UTC().Format(time.RFC3339))
}

// newVerifier makes the verifiers compared: this package's Client, and two
// hand-written ones that GET the result with a plain http.Client, one over
// http.DefaultTransport's settings (naive: 2 idle connections per host) and
// one over a transport with a large pool (tuned), neither with a breaker, an
// in-flight bound or any recovery of its own. host is where the API is
// reached (the fake itself, or a proxy in front of it). close drops the idle
// connections.
func newVerifier(kind string, api *fakeAPI, host string, opts ...trustcaptcha.ClientOption) (v trustcaptcha.Verifier, close func()) {
	roots := x509.NewCertPool()
	roots.AddCert(api.Certificate())
	tlsConfig := &tls.Config{RootCAs: roots}
	if kind == "trustcaptcha" {
		c, err := trustcaptcha.NewClient("load-test-key",
			append([]trustcaptcha.ClientOption{trustcaptcha.WithAPIHost(host), trustcaptcha.WithTLSConfig(tlsConfig)}, opts...)...)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return c, c.CloseIdleConnections
	}
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = tlsConfig
	hc := &http.Client{Transport: t}
	if kind == "tuned" {
		t.MaxIdleConns, t.MaxIdleConnsPerHost = 1024, 1024
		hc.Timeout = clientTimeout
	}
	return trustcaptcha.VerifierFunc(func(ctx context.Context, token string) (*trustcaptcha.Result, error) {
		tok, err := trustcaptcha.ParseToken(token)
		if err != nil {
			return nil, err
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, host+"/v2/verifications/"+tok.VerificationID+"/results", nil)
		req.Header.Set("Authorization", "Bearer load-test-key")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", trustcaptcha.ErrServerUnreachable, err)
		}
		defer resp.Body.Close()
		var res trustcaptcha.Result
		if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&res) != nil {
			return nil, fmt.Errorf("%w: HTTP %d", trustcaptcha.ErrServerUnreachable, resp.StatusCode)
		}
		return &res, nil
	}), hc.CloseIdleConnections
}

// site is the protected server: a form POST behind RequireCaptcha.
func site(v trustcaptcha.Verifier, failover trustcaptcha.FailoverPolicy) *httptest.Server {
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: v, Failover: failover,
		ReplayStore: trustcaptcha.NewMemoryStore(), ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			w.WriteHeader(trustcaptcha.StatusCode(err))
		}})(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if trustcaptcha.AdmittedByFailover(r.Context()) {
			w.WriteHeader(http.StatusAccepted)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = quiet
	srv.Start()
	return srv
}

// quiet drops the servers' connection errors, which an outage makes by the thousand.
var quiet = log.New(io.Discard, "", 0)

// visitor posts forms to the site, each with a token for a fresh verification.
type visitor struct {
	hc  *http.Client
	url string
}

func newVisitor(s *httptest.Server, conns int) *visitor {
	t := &http.Transport{MaxIdleConns: conns, MaxIdleConnsPerHost: conns}
	return &visitor{hc: &http.Client{Transport: t, Timeout: time.Minute}, url: s.URL}
}

func freshToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	id := fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
	return trustcaptcha.Token{VerificationID: id}.Encode()
}

// post sends one form and returns its status (0 on a transport error).
func (v *visitor) post() int {
	body := url.Values{"name": {"Ada"}, "tc-verification-token": {freshToken()}}.Encode()
	resp, err := v.hc.Post(v.url, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// closedLoop keeps n visitors posting forms one after another, each answer
// reported to after, until stop is called; stop waits for them.
func closedLoop(n int, v *visitor, after func(start time.Time, code int)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				start := time.Now()
				after(start, v.post())
			}
		})
	}
	return func() {
		close(done)
		wg.Wait()
	}
}

// peak samples runtime.NumGoroutine until stop is called, and returns the
// highest count seen.
func peakGoroutines() (stop func() int) {
	var peak atomic.Int64
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			if n := int64(runtime.NumGoroutine()); n > peak.Load() {
				peak.Store(n)
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() int {
		close(done)
		<-finished
		return int(peak.Load())
	}
}

func pct(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, len(d)*p/100)]
}

func throughput() {
	fmt.Printf("\n## throughput (API latency %v; limit = in-flight / latency)\n\n", *latency)
	fmt.Println("| protocol | in flight | client | verifications/s | of the limit | p50 | p99 | conns per 1,000 (whole run) | new conns per slot per 10,000 after warm-up | peak goroutines |")
	fmt.Println("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|")
	for _, h2 := range []bool{false, true} {
		for _, inFlight := range []int{16, 64, 256} {
			if *onlyInFlight != 0 && inFlight != *onlyInFlight {
				continue
			}
			for _, kind := range []string{"naive", "tuned", "trustcaptcha"} {
				throughputRun(h2, inFlight, kind)
			}
		}
	}
}

func throughputRun(h2 bool, inFlight int, kind string) {
	api := newFakeAPI(h2, *latency)
	defer api.Close()
	c, closeIdle := newVerifier(kind, api, api.URL)
	defer closeIdle()
	s := site(c, trustcaptcha.FailClosed)
	defer s.Close()
	v := newVisitor(s, inFlight)
	defer v.hc.CloseIdleConnections()

	var measuring atomic.Bool
	var ok, failed, all atomic.Int64
	var mu sync.Mutex
	var lat []time.Duration
	stop := closedLoop(inFlight, v, func(start time.Time, code int) {
		if code == http.StatusNoContent {
			all.Add(1)
		}
		if !measuring.Load() {
			return
		}
		if code != http.StatusNoContent {
			failed.Add(1)
			return
		}
		ok.Add(1)
		d := time.Since(start)
		mu.Lock()
		lat = append(lat, d)
		mu.Unlock()
	})
	time.Sleep(time.Second) // warm-up: pools fill
	conns0 := api.conns.Load()
	peak := peakGoroutines()
	measuring.Store(true)
	start := time.Now()
	time.Sleep(*duration)
	measuring.Store(false)
	elapsed := time.Since(start)
	newConns := api.conns.Load() - conns0
	goroutines := peak()
	stop()

	n := ok.Load()
	rate := float64(n) / elapsed.Seconds()
	limit := float64(inFlight) / latency.Seconds()
	proto := protoName(h2)
	perSlot := 0.0
	if n > 0 {
		perSlot = float64(newConns) / float64(inFlight) / (float64(n) / 10000)
	}
	fmt.Printf("| %s | %d | %s | %.0f | %.2f | %v | %v | %.1f | %.2f | %d |",
		proto, inFlight, kind, rate, rate/limit, pct(lat, 50).Round(100*time.Microsecond),
		pct(lat, 99).Round(100*time.Microsecond), float64(api.conns.Load())*1000/float64(max(all.Load(), 1)), perSlot, goroutines)
	if f := failed.Load(); f > 0 {
		fmt.Printf(" %d failed", f)
	}
	fmt.Println()
}

// deadConnections kills the pooled connections silently under two shapes of
// load. In a closed loop of 16 visitors, every request on a dead connection
// starts within a few milliseconds of the death, so they all time out
// together and the connection falls idle at once. With open-loop arrivals
// (200 a second, each on its own), requests keep starting on a dead HTTP/2
// connection until something closes it, so it never falls idle: only its
// health check (or a timeout that closes it) lets a new connection be dialled.
func deadConnections() {
	fmt.Printf("\n## dead connections (the pooled connections die silently, new ones work; default client settings)\n\n")
	fmt.Println("| protocol | load | client | until verifications pass again | failed meanwhile |")
	fmt.Println("|---|---|---|---:|---:|")
	for _, h2 := range []bool{false, true} {
		for _, open := range []bool{false, true} {
			for _, kind := range []string{"tuned", "trustcaptcha"} {
				deadRun(h2, open, kind)
			}
		}
	}
}

func deadRun(h2, open bool, kind string) {
	const inFlight, rate, giveUp = 16, 20, 60 * time.Second
	api := newFakeAPI(h2, *latency)
	defer api.Close()
	px, err := silentproxy.New(api.Listener.Addr().String())
	if err != nil {
		panic(err)
	}
	defer px.Close()
	// The client talks to the proxy; the fake's certificate is for 127.0.0.1.
	c, closeIdle := newVerifier(kind, api, "https://"+px.Addr())
	defer closeIdle()
	s := site(c, trustcaptcha.FailClosed)
	defer s.Close()
	v := newVisitor(s, inFlight)
	defer v.hc.CloseIdleConnections()

	var killedAt atomic.Int64 // unix nanos; 0 before the kill
	var recovered atomic.Int64
	var failed atomic.Int64
	after := func(start time.Time, code int) {
		k := killedAt.Load()
		if k == 0 {
			return
		}
		if code != http.StatusNoContent {
			failed.Add(1)
		} else if start.UnixNano() > k {
			recovered.CompareAndSwap(0, time.Now().UnixNano())
		}
	}
	load, stop := "closed loop, 16", closedLoop
	if open {
		load, stop = fmt.Sprintf("open loop, %d/s", rate), func(_ int, v *visitor, after func(time.Time, int)) func() {
			return openLoop(rate, v, after)
		}
	}
	stopLoad := stop(inFlight, v, after)
	time.Sleep(time.Second)
	killedAt.Store(time.Now().UnixNano())
	px.Kill()
	took := await(&recovered, killedAt.Load(), giveUp, 100*time.Millisecond, " (not recovered)")
	api.CloseClientConnections()
	stopLoad() // requests still on dead connections end with the client's timeout

	proto := protoName(h2)
	fmt.Printf("| %s | %s | %s | %s | %d |\n", proto, load, kind, took, failed.Load())
}

// openLoop posts rate forms a second, each in a goroutine of its own whatever
// the others do, each answer reported to after, until stop is called; stop
// waits for the posts under way.
func openLoop(rate int, v *visitor, after func(start time.Time, code int)) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(time.Second / time.Duration(rate))
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			wg.Go(func() {
				start := time.Now()
				after(start, v.post())
			})
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

func outage() {
	fmt.Printf("\n## outage under an open-loop arrival of 2,500 requests/s (HTTP/1.1, default settings, FailOpen)\n\n")
	fmt.Println("| client | peak goroutines (whole process) | verifications waiting on the dead API, at most | API connections dialled | p50 / p99 before the breaker opens | p50 / p99 after | API back → passing | goroutines left |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|")
	outageRun("unbounded (WithMaxInFlight(1<<20))", trustcaptcha.WithMaxInFlight(1<<20))
	outageRun("trustcaptcha (default bound 512)")
}

func outageRun(name string, opts ...trustcaptcha.ClientOption) {
	const rate, hung = 2500, 8 * time.Second
	runtime.GC()
	base := runtime.NumGoroutine()
	api := newFakeAPI(false, *latency)
	c, closeIdle := newVerifier("trustcaptcha", api, api.URL, opts...)
	s := site(c, trustcaptcha.FailOpen)
	v := newVisitor(s, 100000)

	var mu sync.Mutex
	type sample struct {
		at   time.Time
		took time.Duration
		code int
	}
	var samples []sample
	var wg sync.WaitGroup
	fire := func(until time.Time) {
		interval := time.Second / rate
		next := time.Now()
		for next.Before(until) {
			wg.Go(func() {
				start := time.Now()
				code := v.post()
				mu.Lock()
				samples = append(samples, sample{start, time.Since(start), code})
				mu.Unlock()
			})
			next = next.Add(interval)
			if d := time.Until(next); d > 0 {
				time.Sleep(d)
			}
		}
	}
	fire(time.Now().Add(time.Second)) // healthy
	conns0 := api.conns.Load()
	peak := peakGoroutines()
	api.peak.Store(0)
	api.hung.Store(true)
	outageStart := time.Now()
	fire(outageStart.Add(hung))
	dialled := api.conns.Load() - conns0
	waiting := api.peak.Load()
	api.hung.Store(false)
	close(api.release)
	back := time.Now()
	// Keep arriving until verifications pass again (the breaker's cool-down).
	var passing time.Duration
	for i := 0; i < 30 && passing == 0; i++ {
		from := time.Now()
		fire(from.Add(500 * time.Millisecond))
		mu.Lock()
		for _, s := range samples {
			if s.at.After(back) && s.code == http.StatusNoContent {
				passing = s.at.Add(s.took).Sub(back)
				break
			}
		}
		mu.Unlock()
	}
	wg.Wait()
	goroutines := peak()

	var before, after []time.Duration
	breakerOpenAt := outageStart.Add(clientTimeout)
	for _, s := range samples {
		switch {
		case s.at.Before(outageStart) || s.at.After(back):
		case s.at.Before(breakerOpenAt):
			before = append(before, s.took)
		default:
			after = append(after, s.took)
		}
	}
	closeIdle()
	v.hc.CloseIdleConnections()
	s.Close()
	api.Close()
	time.Sleep(200 * time.Millisecond)
	runtime.GC()
	left := runtime.NumGoroutine() - base
	r := func(d time.Duration) time.Duration { return d.Round(time.Millisecond) }
	fmt.Printf("| %s | %d | %d | %d | %v / %v | %v / %v | %v | %d |\n", name, goroutines, waiting, dialled,
		r(pct(before, 50)), r(pct(before, 99)), r(pct(after, 50)), r(pct(after, 99)), r(passing), left)
}

// blips: the API stops answering for D (a blackhole: requests hang until the
// client's timeout) while 16 visitors post; how long after the API is back
// does a verification pass again? Client timeout 250 ms, default breaker.
func blips() {
	fmt.Printf("\n## short outages (16 in flight, client timeout 250 ms, default breaker, FailClosed)\n\n")
	fmt.Println("| protocol | outage | API back → first pass | rejected during and after |")
	fmt.Println("|---|---:|---:|---:|")
	for _, h2 := range []bool{false, true} {
		for _, d := range []time.Duration{time.Second, 2 * time.Second, 5 * time.Second} {
			blipRun(h2, d)
		}
	}
}

func blipRun(h2 bool, outage time.Duration) {
	const inFlight, giveUp = 16, 30 * time.Second
	api := newFakeAPI(h2, *latency)
	defer api.Close()
	c, closeIdle := newVerifier("trustcaptcha", api, api.URL, trustcaptcha.WithTimeout(250*time.Millisecond))
	defer closeIdle()
	s := site(c, trustcaptcha.FailClosed)
	defer s.Close()
	v := newVisitor(s, inFlight)
	defer v.hc.CloseIdleConnections()

	var backAt, passAt, rejected atomic.Int64 // unix nanos
	var outageOn atomic.Bool
	stop := closedLoop(inFlight, v, func(start time.Time, code int) {
		if outageOn.Load() || backAt.Load() != 0 && passAt.Load() == 0 {
			if code != http.StatusNoContent {
				rejected.Add(1)
			}
		}
		if b := backAt.Load(); b != 0 && code == http.StatusNoContent && start.UnixNano() >= b {
			passAt.CompareAndSwap(0, time.Now().UnixNano())
		}
	})
	time.Sleep(time.Second)
	outageOn.Store(true)
	api.hung.Store(true)
	time.Sleep(outage)
	api.hung.Store(false)
	outageOn.Store(false)
	backAt.Store(time.Now().UnixNano())
	took := await(&passAt, backAt.Load(), giveUp, 10*time.Millisecond, "")
	stop()
	close(api.release)
	proto := protoName(h2)
	fmt.Printf("| %s | %v | %s | %d |\n", proto, outage, took, rejected.Load())
}

// churn: 1 answer in 50 is a 503 while 32 visitors post; how many new API
// connections does that cost per 1,000 verifications after warm-up?
func churn() {
	fmt.Printf("\n## 2 %% of answers are 503 (32 in flight, default settings)\n\n")
	fmt.Println("| protocol | 5xx | verifications | new API connections per 1,000 after warm-up |")
	fmt.Println("|---|---:|---:|---:|")
	for _, h2 := range []bool{false, true} {
		for _, every := range []int64{0, 50} {
			churnRun(h2, every)
		}
	}
}

func churnRun(h2 bool, every int64) {
	const inFlight = 32
	api := newFakeAPI(h2, *latency)
	api.every5xx = every
	defer api.Close()
	c, closeIdle := newVerifier("trustcaptcha", api, api.URL)
	defer closeIdle()
	s := site(c, trustcaptcha.FailClosed)
	defer s.Close()
	v := newVisitor(s, inFlight)
	defer v.hc.CloseIdleConnections()
	var measuring atomic.Bool
	var n atomic.Int64
	stop := closedLoop(inFlight, v, func(time.Time, int) {
		if measuring.Load() {
			n.Add(1)
		}
	})
	time.Sleep(time.Second)
	conns0 := api.conns.Load()
	measuring.Store(true)
	time.Sleep(*duration)
	measuring.Store(false)
	conns := api.conns.Load() - conns0
	stop()
	close(api.release)
	proto := protoName(h2)
	share := "none"
	if every > 0 {
		share = fmt.Sprintf("1 in %d", every)
	}
	fmt.Printf("| %s | %s | %d | %.1f |\n", proto, share, n.Load(), float64(conns)*1000/float64(max(1, n.Load())))
}

func protoName(h2 bool) string {
	if h2 {
		return "HTTP/2"
	}
	return "HTTP/1.1"
}

// await waits up to giveUp for at (unix nanos) to be set, and says how long
// after since it was, rounded; "> giveUp" and missing when it never was.
func await(at *atomic.Int64, since int64, giveUp, round time.Duration, missing string) string {
	for deadline := time.Now().Add(giveUp); at.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if t := at.Load(); t != 0 {
		return time.Duration(t - since).Round(round).String()
	}
	return fmt.Sprintf("> %v%s", giveUp, missing)
}
