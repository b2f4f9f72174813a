package trustcaptcha

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// parseProxies reads Options.TrustedProxies: IP addresses or CIDR prefixes.
// It panics on an invalid entry, naming it.
func parseProxies(list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				panic(fmt.Sprintf("trustcaptcha: Options.TrustedProxies: %q is neither an IP address nor a CIDR prefix", s))
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		out = append(out, p.Masked())
	}
	return out
}

// ipMatches reports whether solver, the result's IP address, is the
// request's client IP behind the trusted proxies.
func ipMatches(r *http.Request, proxies []netip.Prefix, solver string) bool {
	want, err := netip.ParseAddr(strings.TrimSpace(solver))
	if err != nil {
		return false
	}
	got, ok := clientIP(r, proxies)
	return ok && got == want.Unmap().WithZone("")
}

// clientIP resolves the client's address: the connection's peer, or while
// that is a trusted proxy the next address to the left in X-Forwarded-For
// (walked from the right: its entries are the client's to choose). An
// unparsable address on that path is a failure.
func clientIP(r *http.Request, proxies []netip.Prefix) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	ip = ip.Unmap().WithZone("")
	if !trusted(ip, proxies) {
		return ip, true
	}
	vals := r.Header.Values("X-Forwarded-For")
	for i := len(vals) - 1; i >= 0; i-- {
		for rest := vals[i]; rest != ""; {
			var h string
			if j := strings.LastIndexByte(rest, ','); j >= 0 {
				rest, h = rest[:j], rest[j+1:]
			} else {
				rest, h = "", rest
			}
			if h = strings.TrimSpace(h); h == "" {
				continue
			}
			a, err := netip.ParseAddr(h)
			if err != nil {
				return netip.Addr{}, false
			}
			ip = a.Unmap().WithZone("")
			if !trusted(ip, proxies) {
				return ip, true
			}
		}
	}
	return ip, true
}

func trusted(ip netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
