package trustcaptcha

import (
	"net"
	"net/http/httptest"
	"strings"
	"testing"
)

// FuzzClientIP: the X-Forwarded-For walk (right to left, without splitting
// the header) agrees with the plain reading: split every value at its
// commas, skip empty entries, and step left while the hop is a trusted proxy.
func FuzzClientIP(f *testing.F) {
	proxies := parseProxies([]string{"10.0.0.0/8", "fd00::/8"})
	f.Add("10.0.0.1:443", "203.0.113.7, 10.0.0.2", "")
	f.Add("10.0.0.1:443", "203.0.113.7", "10.0.0.2")
	f.Add("10.0.0.1:443", " , ,", "10.0.0.3,")
	f.Add("[fd00::1]:443", "::ffff:203.0.113.7,fd00::2", "")
	f.Add("198.51.100.9:5555", "203.0.113.7", "")
	f.Add("10.0.0.1", "not-an-ip, 10.0.0.2", "")
	f.Fuzz(func(t *testing.T, remote, xff1, xff2 string) {
		r := httptest.NewRequest("POST", "/", nil)
		r.RemoteAddr = remote
		for _, v := range []string{xff1, xff2} {
			if v != "" {
				r.Header.Add("X-Forwarded-For", v)
			}
		}
		got, gotOK := clientIP(r, proxies)

		host, _, err := net.SplitHostPort(remote)
		if err != nil {
			host = remote
		}
		want, wantOK := parseIP(host)
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(v, ",")...)
		}
		for i := len(hops) - 1; i >= 0 && wantOK && trusted(want, proxies); i-- {
			if h := strings.TrimSpace(hops[i]); h != "" {
				want, wantOK = parseIP(h)
			}
		}
		if gotOK != wantOK || gotOK && got != want {
			t.Fatalf("clientIP(%q, %q) = %v, %v; want %v, %v", remote, hops, got, gotOK, want, wantOK)
		}
		if gotOK && (got.Zone() != "" || got.Is4In6()) {
			t.Fatalf("clientIP = %v: zoned or IPv4-mapped", got)
		}
	})
}
