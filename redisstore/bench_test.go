package redisstore_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/captchakit/trustcaptcha"
	"github.com/captchakit/trustcaptcha/internal/redistest"
	"github.com/captchakit/trustcaptcha/redisstore"
)

// BenchmarkStepUpRequired: one StepUp.Required on a redis-server on
// loopback (one round trip; two with SiteWide), each call from one of
// 100,000 client addresses, from GOMAXPROCS goroutines.
func BenchmarkStepUpRequired(b *testing.B) {
	srv := redistest.Start(b)
	rdb := redis.NewClient(&redis.Options{Addr: srv.Addr()})
	b.Cleanup(func() { rdb.Close() })
	reqs := make([]*http.Request, 100_000)
	for i := range reqs {
		reqs[i] = httptest.NewRequest(http.MethodPost, "/login", nil)
		reqs[i].RemoteAddr = fmt.Sprintf("10.%d.%d.%d:1000", i>>16, i>>8&255, i&255)
	}
	for _, siteWide := range []int{0, 1 << 30} {
		b.Run(fmt.Sprintf("sitewide=%v", siteWide > 0), func(b *testing.B) {
			su := trustcaptcha.NewStepUp(trustcaptcha.StepUpOptions{After: 5, Per: time.Hour,
				SiteWide: siteWide, Counter: redisstore.New(rdb)})
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
