package trustcaptcha

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// parseProxies reads a list of trusted proxies, the field named field: IP
// addresses or CIDR prefixes. It panics on an invalid entry, naming it and
// the field.
func parseProxies(field string, list []string) []netip.Prefix {
	var out []netip.Prefix
	for _, s := range list {
		p, err := netip.ParsePrefix(s)
		if a, ok := parseIP(s); ok {
			p, err = netip.PrefixFrom(a, a.BitLen()), nil
		}
		if err != nil {
			panic(fmt.Sprintf("trustcaptcha: %s: %q is neither an IP address "+
				"nor a CIDR prefix", field, s))
		}
		out = append(out, p.Masked())
	}
	return out
}

// ipMatches reports whether solver, the result's IP address, is the
// request's client IP behind the trusted proxies.
func ipMatches(r *http.Request, proxies []netip.Prefix, solver string) bool {
	want, ok := parseIP(strings.TrimSpace(solver))
	got, gotOK := clientIP(r, proxies)
	return ok && gotOK && got == want
}

// clientIP is the connection's peer or, while that is a trusted proxy, the
// next address to the left in X-Forwarded-For; one unparsable fails.
func clientIP(r *http.Request, proxies []netip.Prefix) (ip netip.Addr, ok bool) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	ip, ok = parseIP(host)
	rest := strings.Join(r.Header.Values("X-Forwarded-For"), ",")
	for ok && rest != "" && trusted(ip, proxies) {
		j := strings.LastIndexByte(rest, ',')
		hop := strings.TrimSpace(rest[j+1:])
		if rest = rest[:max(j, 0)]; hop != "" {
			ip, ok = parseIP(hop)
		}
	}
	return ip, ok
}

// parseIP reads an IP address, IPv4-mapped IPv6 as IPv4, without a zone.
func parseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	return a.Unmap().WithZone(""), err == nil
}

func trusted(ip netip.Addr, proxies []netip.Prefix) bool {
	for _, p := range proxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}
