package trustcaptcha_test

// Benchmarks. BENCHMARKS.md records the figures and the commands. Each
// comparison runs its baseline and the candidate side by side as
// sub-benchmarks of one benchmark, so one run gives the ratio.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/trustcaptchatest"
)

// discardWriter is a ResponseWriter that costs nothing.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }
func (d *discardWriter) WriteHeader(int)             {}

// memVerifier answers at once with a passing result: the middleware's own cost
// (the benchmarks set AllowReplay; BenchmarkMemoryStore measures claims).
var memResult = &trustcaptcha.Result{VerificationPassed: true, Score: 0.1}

var memVerifier = trustcaptcha.VerifierFunc(
	func(context.Context, string) (*trustcaptcha.Result, error) { return memResult, nil },
)

// serveLoop sends the same request (a fresh body each time) b.N times.
func serveLoop(b *testing.B, h http.Handler, base *http.Request, body []byte) {
	b.Helper()
	w := &discardWriter{h: http.Header{}}
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		r := *base
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.Form, r.PostForm, r.MultipartForm = nil, nil, nil
		clear(w.h)
		h.ServeHTTP(w, &r)
	}
}

func newReq(ct string, body []byte) *http.Request {
	r, _ := http.NewRequest(http.MethodPost, "http://shop.example/contact", bytes.NewReader(body))
	r.Header.Set("Content-Type", ct)
	r.ContentLength = int64(len(body))
	return r
}

var (
	sinkString string
	sinkBytes  []byte
)

// BenchmarkMiddlewareForm: a urlencoded form POST to a handler that reads
// two fields, bare and behind RequireCaptcha.
func BenchmarkMiddlewareForm(b *testing.B) {
	body := []byte(
		url.Values{"name": {"Ada Lovelace"}, "email": {"ada@example.com"}, "message": {strings.Repeat("Hello! ", 40)},
			"tc-verification-token": {tokHuman}}.Encode(),
	)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sinkString = r.FormValue("name") + r.FormValue("email")
	})
	base := newReq("application/x-www-form-urlencoded", body)
	b.Run("impl=bare", func(b *testing.B) { serveLoop(b, handler, base, body) })
	b.Run("impl=captcha", func(b *testing.B) {
		serveLoop(
			b,
			trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: memVerifier, AllowReplay: true})(handler),
			base,
			body,
		)
	})
}

// jsonBody is a JSON object of about n bytes with the token as its last member.
func jsonBody(n int) []byte {
	pad := n - len(`{"items":[],"tc-verification-token":""}`) - len(tokHuman)
	var items []string
	for pad > 0 {
		s := strings.Repeat("x", min(pad, 60))
		items = append(items, `"`+s+`"`)
		pad -= len(s) + 3
	}
	return []byte(`{"items":[` + strings.Join(items, ",") + `],"tc-verification-token":"` + tokHuman + `"}`)
}

// BenchmarkMiddlewareJSON: a JSON POST of 1 KiB and 1 MiB to a handler that
// reads the body ("bare-read"), to one that also decodes it ("bare-decode"),
// and to that same decoding handler behind RequireCaptcha.
func BenchmarkMiddlewareJSON(b *testing.B) {
	read := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sinkBytes, _ = io.ReadAll(r.Body)
	})
	decode := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var v struct {
			Items []string `json:"items"`
		}
		_ = json.NewDecoder(r.Body).Decode(&v)
	})
	for _, size := range []struct {
		name string
		n    int
	}{{"1KiB", 1 << 10}, {"1MiB", 1 << 20}} {
		body := jsonBody(size.n)
		base := newReq("application/json", body)
		captcha := trustcaptcha.RequireCaptcha(
			trustcaptcha.Options{Verifier: memVerifier, AllowReplay: true, MaxBodyBytes: 2 << 20},
		)
		b.Run("size="+size.name+"/handler=read/impl=bare", func(b *testing.B) { serveLoop(b, read, base, body) })
		b.Run(
			"size="+size.name+"/handler=read/impl=captcha",
			func(b *testing.B) { serveLoop(b, captcha(read), base, body) },
		)
		b.Run("size="+size.name+"/handler=decode/impl=bare", func(b *testing.B) { serveLoop(b, decode, base, body) })
		b.Run(
			"size="+size.name+"/handler=decode/impl=captcha",
			func(b *testing.B) { serveLoop(b, captcha(decode), base, body) },
		)
	}
}

// BenchmarkMiddlewareHeader: the token in a header, no body.
func BenchmarkMiddlewareHeader(b *testing.B) {
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	base := newReq("", nil)
	base.Header.Del("Content-Type")
	base.Header.Set("X-TC-Verification-Token", tokHuman)
	b.Run("impl=bare", func(b *testing.B) { serveLoop(b, handler, base, nil) })
	b.Run("impl=captcha", func(b *testing.B) {
		serveLoop(
			b,
			trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: memVerifier, AllowReplay: true})(handler),
			base,
			nil,
		)
	})
}

// BenchmarkClientVerify: one verification through Client against the fake
// API on loopback, next to the floor: a raw keep-alive http.Client GET of
// the same URL with the same headers that reads the body. Reports the
// connections the server accepted per 1,000 calls.
func BenchmarkClientVerify(b *testing.B) {
	// Each variant gets its own fake, so neither inherits the other's state.
	fake := func(b *testing.B) (*trustcaptchatest.Server, string, string) {
		api := trustcaptchatest.NewServer()
		b.Cleanup(api.Close)
		tok := api.Human()
		parsed, _ := trustcaptcha.ParseToken(tok)
		return api, tok, api.URL + "/v2/verifications/" + parsed.VerificationID + "/results"
	}
	raw := func(decode bool) func(b *testing.B) {
		return func(b *testing.B) {
			api, _, u := fake(b)
			hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
			defer hc.CloseIdleConnections()
			conns0 := api.Connections()
			b.ReportAllocs()
			for b.Loop() {
				req, _ := http.NewRequest(http.MethodGet, u, nil)
				req.Header.Set("Authorization", "Bearer "+api.APIKey())
				resp, err := hc.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if decode { // what a hand-written client does with the answer
					var res struct {
						VerificationPassed bool    `json:"verificationPassed"`
						Score              float64 `json:"score"`
						Origin             string  `json:"origin"`
						ResultExpiresAt    string  `json:"resultExpiresAt"`
					}
					if err := json.Unmarshal(body, &res); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(api.Connections()-conns0)*1000/float64(b.N), "conns/1000")
		}
	}
	b.Run("impl=raw-http-get", raw(false))
	b.Run("impl=raw-get-decode", raw(true))
	b.Run("impl=client-verify", func(b *testing.B) {
		api, tok, _ := fake(b)
		c := api.Client()
		defer c.CloseIdleConnections()
		conns0 := api.Connections()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := c.Verify(context.Background(), tok); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(api.Connections()-conns0)*1000/float64(b.N), "conns/1000")
	})
}

// BenchmarkFullStackParallel: RequireCaptcha + Client + the fake API on
// loopback, requests from GOMAXPROCS goroutines (single use off: one token
// serves every request; the load test measures with fresh ones).
func BenchmarkFullStackParallel(b *testing.B) {
	api := trustcaptchatest.NewServer()
	defer api.Close()
	tok := api.Human()
	c := api.Client()
	defer c.CloseIdleConnections()
	var rejected atomic.Int64
	h := trustcaptcha.RequireCaptcha(
		trustcaptcha.Options{Verifier: c, AllowReplay: true, // one token for every request
			ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) { rejected.Add(1) }},
	)(
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
	)
	body := []byte(url.Values{"name": {"Ada"}, "tc-verification-token": {tok}}.Encode())
	base := newReq("application/x-www-form-urlencoded", body)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		w := &discardWriter{h: http.Header{}}
		for pb.Next() {
			r := *base
			r.Body = io.NopCloser(bytes.NewReader(body))
			h.ServeHTTP(w, &r)
		}
	})
	if rejected.Load() > 0 {
		b.Fatalf("%d requests rejected", rejected.Load())
	}
}

// BenchmarkOutage: what one request costs while the API is blackholed (a
// listener that never accepts), with FailOpen: before the breaker opens
// every request waits for the client's timeout (100 ms here); after, the
// breaker answers at once. Reports p50 and p99 of the added latency.
func BenchmarkOutage(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	host := "http://" + ln.Addr().String()
	for _, tc := range []struct {
		name string
		opts []trustcaptcha.ClientOption
	}{
		{"breaker=closed", []trustcaptcha.ClientOption{trustcaptcha.WithBreaker(0, 0)}},
		{"breaker=open", []trustcaptcha.ClientOption{trustcaptcha.WithBreaker(1, time.Hour)}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			c, err := trustcaptcha.NewClient(
				"k",
				append(
					[]trustcaptcha.ClientOption{
						trustcaptcha.WithAPIHost(host),
						trustcaptcha.WithTimeout(100 * time.Millisecond),
					},
					tc.opts...)...)
			if err != nil {
				b.Fatal(err)
			}
			defer c.CloseIdleConnections()
			h := trustcaptcha.RequireCaptcha(
				trustcaptcha.Options{Verifier: c, Failover: trustcaptcha.FailOpen},
			)(
				http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}),
			)
			base := newReq("", nil)
			base.Header.Set("X-TC-Verification-Token", tokHuman)
			w := &discardWriter{h: http.Header{}}
			h.ServeHTTP(w, base) // opens the breaker where there is one
			var lat []time.Duration
			b.ReportAllocs()
			for b.Loop() {
				start := time.Now()
				h.ServeHTTP(w, base)
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkMiddlewareMultipart: a 5 MiB file upload with the token in a text
// field. "handler=none" is the middleware's own cost (its bytes allocated per
// request are what it holds for the upload); "handler=parse" adds a handler
// that parses the form with ParseMultipartForm, bare and behind the
// middleware.
func BenchmarkMiddlewareMultipart(b *testing.B) {
	body, ct := upload(b, tokHuman, 5<<20)
	base := newReq(ct, body)
	none := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	parse := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseMultipartForm(1 << 20); err != nil {
			b.Fatal(err)
		}
		sinkString = r.FormValue("name")
		_ = r.MultipartForm.RemoveAll()
	})
	captcha := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: memVerifier, AllowReplay: true})
	b.Run("handler=none/impl=captcha", func(b *testing.B) { serveLoop(b, captcha(none), base, body) })
	b.Run("handler=parse/impl=bare", func(b *testing.B) { serveLoop(b, parse, base, body) })
	b.Run("handler=parse/impl=captcha", func(b *testing.B) { serveLoop(b, captcha(parse), base, body) })
}

// BenchmarkMemoryStore: the cost of one claim (a fresh id each time, as for
// a real stream of verifications) and, filled to its default bound, the
// memory each unexpired claim holds.
func BenchmarkMemoryStore(b *testing.B) {
	ctx := context.Background()
	ids := make([]string, 1<<20)
	for i := range ids {
		ids[i] = fmt.Sprintf("%08x-0000-4000-8000-000000000000", i)
	}
	b.Run("op=claim", func(b *testing.B) {
		var s *trustcaptcha.MemoryStore
		expires := time.Now().Add(15 * time.Minute)
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if i%len(ids) == 0 { // a full store: start again
				s = trustcaptcha.NewMemoryStore()
			}
			if _, err := s.Claim(ctx, ids[i%len(ids)], expires); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("op=fill", func(b *testing.B) {
		for b.Loop() {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s := trustcaptcha.NewMemoryStore()
			expires := time.Now().Add(15 * time.Minute)
			for _, id := range ids { // a full store, each claim with an id of its own, as a request's is
				if _, err := s.Claim(ctx, strings.Clone(id), expires); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(len(ids)), "bytes/claim")
			runtime.KeepAlive(s)
		}
	})
}

// BenchmarkMemoryStoreIncrement: one Increment of a key new to its window (a
// per-client failover budget meeting one more client during an outage) while
// live windows are already counting: the store is filled with live keys, then
// each call counts a new one, up to 2 x live keys or the store's bound, and
// then the store is filled anew (untimed). fill-1M reports the heap one
// live window holds (keys of 20 bytes, "client:" and 13 hex digits).
func BenchmarkMemoryStoreIncrement(b *testing.B) {
	ctx := context.Background()
	key := func(i int) string { return fmt.Sprintf("client:%013x", i) }
	for _, live := range []int{1_000, 10_000, 100_000, 1_000_000} {
		b.Run(fmt.Sprintf("live=%d", live), func(b *testing.B) {
			keys := make([]string, min(2*live, trustcaptcha.DefaultMemoryStoreWindows))
			for i := range keys {
				keys[i] = key(i)
			}
			var s *trustcaptcha.MemoryStore
			fill := func() {
				s = trustcaptcha.NewMemoryStoreWithClock(newFakeClock().Now, 1) // windows: the default bound
				for _, k := range keys[:live] {
					if _, err := s.Increment(ctx, k, time.Hour); err != nil {
						b.Fatal(err)
					}
				}
			}
			fill()
			b.ReportAllocs()
			next := live
			for b.Loop() {
				if next == len(keys) {
					b.StopTimer()
					fill()
					next = live
					b.StartTimer()
				}
				if _, err := s.Increment(ctx, keys[next], time.Hour); err != nil {
					b.Fatal(err)
				}
				next++
			}
		})
	}
	b.Run("fill-1M", func(b *testing.B) {
		for b.Loop() {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			s := trustcaptcha.NewMemoryStore()
			for i := range 1_000_000 {
				if _, err := s.Increment(ctx, key(i), time.Hour); err != nil {
					b.Fatal(err)
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/1e6, "bytes/window")
			runtime.KeepAlive(s)
		}
	})
}

// BenchmarkBodyCost: reading bodies of one shape at growing sizes. Linear
// cost shows as a steady MB/s across sizes (and B/op growing with the size).
func BenchmarkBodyCost(b *testing.B) {
	h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{
		Verifier: memVerifier, AllowReplay: true, Logger: quietLogger(), MaxBodyBytes: 4 << 20,
	})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	shapes := []struct {
		name, ct string
		body     func(size int) []byte
	}{
		{"json-members", "application/json",
			func(n int) []byte { return repeatBody(`{`, `"a":0,`, `"tc-verification-token":"`+tokHuman+`"}`, n) }},
		{"urlencoded-pairs", "application/x-www-form-urlencoded",
			func(n int) []byte { return repeatBody("", "ab=c&", "tc-verification-token="+tokHuman, n) }},
		{"multipart-fields", "multipart/form-data; boundary=B",
			func(n int) []byte {
				return multipartShape("Content-Disposition: form-data; name=\"a\"\r\n\r\nvalue", n)
			}},
		{"multipart-file", "multipart/form-data; boundary=B", func(n int) []byte {
			return multipartShape("Content-Disposition: form-data; name=\"f\"; filename=\"a\"\r\n\r\n"+strings.Repeat("z", n), 1)
		}},
	}
	for _, s := range shapes {
		for _, size := range []int{16 << 10, 256 << 10, 1 << 20} {
			body := s.body(size)
			b.Run(fmt.Sprintf("%s/size=%dKiB", s.name, size>>10), func(b *testing.B) {
				serveLoop(b, h, newReq(s.ct, body), body)
			})
		}
	}
}

// BenchmarkRejection: the cost of a rejection (a flood of bad requests is
// the path an attacker chooses), by cause: no token, a score too high, and
// an outage the default policy rejects; the logger discards, at level Info.
func BenchmarkRejection(b *testing.B) {
	high := &trustcaptcha.Result{VerificationPassed: true, Score: 0.9}
	for _, tc := range []struct {
		name string
		v    trustcaptcha.VerifierFunc
		tok  string
	}{
		{"cause=token-missing", func(context.Context, string) (*trustcaptcha.Result, error) { return memResult, nil }, ""},
		{"cause=score-too-high", func(context.Context, string) (*trustcaptcha.Result, error) { return high, nil }, tokHuman},
		{"cause=server-unreachable", func(context.Context, string) (*trustcaptcha.Result, error) {
			return nil, fmt.Errorf("%w: timeout", trustcaptcha.ErrServerUnreachable)
		}, tokHuman},
	} {
		b.Run(tc.name, func(b *testing.B) {
			h := trustcaptcha.RequireCaptcha(trustcaptcha.Options{Verifier: tc.v, AllowReplay: true,
				Logger: slog.New(slog.DiscardHandler)})(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
			base := newReq("", nil)
			if tc.tok != "" {
				base.Header.Set("X-TC-Verification-Token", tc.tok)
			}
			serveLoop(b, h, base, nil)
		})
	}
}

// BenchmarkStepUpRequired: one StepUp.Required on a MemoryStore, each call
// from one of 100,000 client addresses (so 100,000 live windows), from
// GOMAXPROCS goroutines; with SiteWide, a second count on one shared key.
func BenchmarkStepUpRequired(b *testing.B) {
	reqs := make([]*http.Request, 100_000)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodPost, "/login", nil)
		reqs[i].RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1000", i>>16, i>>8&255, i&255)
	}
	for _, siteWide := range []int{0, 1 << 30} {
		b.Run(fmt.Sprintf("sitewide=%v", siteWide > 0), func(b *testing.B) {
			su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 5, Per: time.Hour,
				SiteWide: siteWide})
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					su.Required(reqs[i%len(reqs)])
					i++
				}
			})
		})
	}
}
