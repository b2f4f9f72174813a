package trustcaptcha_test

// The client IP behind trusted proxies (clientip.go), for MatchClientIP.

import (
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"

	"github.com/captchakit/trustcaptcha"
	"github.com/stretchr/testify/assert"
)

// FuzzClientIP: the X-Forwarded-For walk (right to left, without splitting
// the header) agrees with the plain reading: split every value at its
// commas, skip empty entries, and step left while the hop is a trusted proxy.
func FuzzClientIP(f *testing.F) {
	proxies := []string{"10.0.0.0/8", "fd00::/8"}
	trusted := func(a netip.Addr) bool {
		return netip.MustParsePrefix(proxies[0]).Contains(a) || netip.MustParsePrefix(proxies[1]).Contains(a)
	}
	parse := func(s string) (netip.Addr, bool) {
		a, err := netip.ParseAddr(s)
		return a.Unmap().WithZone(""), err == nil
	}
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
		got, gotOK := trustcaptcha.ClientIP(r, proxies)

		host, _, err := net.SplitHostPort(remote)
		if err != nil {
			host = remote
		}
		want, wantOK := parse(host)
		var hops []string
		for _, v := range r.Header.Values("X-Forwarded-For") {
			hops = append(hops, strings.Split(v, ",")...)
		}
		for i := len(hops) - 1; i >= 0 && wantOK && trusted(want); i-- {
			if h := strings.TrimSpace(hops[i]); h != "" {
				want, wantOK = parse(h)
			}
		}
		if gotOK != wantOK || gotOK && got != want {
			t.Fatalf("ClientIP(%q, %q) = %v, %v; want %v, %v", remote, hops, got, gotOK, want, wantOK)
		}
		if gotOK && (got.Zone() != "" || got.Is4In6()) {
			t.Fatalf("ClientIP = %v: zoned or IPv4-mapped", got)
		}
	})
}

func TestMatchClientIP(t *testing.T) {
	t.Parallel()
	// The stub's results were solved from 203.0.113.7.
	cases := []struct {
		name    string
		proxies []string
		remote  string
		xff     []string
		want    int
	}{
		{"direct, same address", nil, "203.0.113.7:5555", nil, 204},
		{"direct, IPv4-mapped IPv6", nil, "[::ffff:203.0.113.7]:5555", nil, 204},
		{"direct, other address", nil, "198.51.100.9:5555", nil, 400},
		{"spoofed header from an untrusted peer", nil, "198.51.100.9:5555", []string{"203.0.113.7"}, 400},
		{
			"spoofed header, trusted proxies configured",
			[]string{"10.0.0.0/8"},
			"198.51.100.9:5555",
			[]string{"203.0.113.7"},
			400,
		},
		{"behind one proxy", []string{"10.0.0.1"}, "10.0.0.1:443", []string{"203.0.113.7"}, 204},
		{"behind one proxy, other client", []string{"10.0.0.1"}, "10.0.0.1:443", []string{"198.51.100.9"}, 400},
		{"behind two proxies", []string{"10.0.0.0/8"}, "10.0.0.1:443", []string{"203.0.113.7, 10.0.0.2"}, 204},
		{
			"behind two proxies, split headers",
			[]string{"10.0.0.0/8"},
			"10.0.0.1:443",
			[]string{"203.0.113.7", "10.0.0.2"},
			204,
		},
		{
			"client-forged left entry is ignored",
			[]string{"10.0.0.0/8"},
			"10.0.0.1:443",
			[]string{"203.0.113.7, 198.51.100.9, 10.0.0.2"},
			400,
		},
		{"garbage in the header", []string{"10.0.0.0/8"}, "10.0.0.1:443", []string{"not-an-ip, 10.0.0.2"}, 400},
		{"empty entries are skipped", []string{"10.0.0.0/8"}, "10.0.0.1:443", []string{"203.0.113.7, ,10.0.0.2,", ""}, 204},
		{"every hop a proxy: the left-most", []string{"10.0.0.0/8"}, "10.0.0.1:443", []string{"10.0.0.3, 10.0.0.2"}, 400},
		{"unparsable peer", nil, "not-an-address", nil, 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := trustcaptcha.RequireCaptcha(
				trustcaptcha.Options{Verifier: &stub{}, MatchClientIP: true, TrustedProxies: tc.proxies},
			)(
				probe(&seen{}),
			)
			r := httptest.NewRequest(http.MethodPost, "/contact", nil)
			r.RemoteAddr = tc.remote
			r.Header.Set("X-TC-Verification-Token", tokHuman)
			for _, x := range tc.xff {
				r.Header.Add("X-Forwarded-For", x)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			assert.Equal(t, tc.want, rec.Code)
			if tc.want == 400 {
				assert.Contains(t, rec.Body.String(), "ip-mismatch")
			}
		})
	}
}
