package gateway

import (
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// maxForwardedHops bounds how many X-Forwarded-For entries are read: a
// client may pad the header with addresses that fall in a trusted prefix,
// and no real path crosses this many proxies of one's own.
const maxForwardedHops = 32

// ClientIP returns the IP address of the client that sent r.
//
// The direct peer (r.RemoteAddr) is the client unless it is in trusted,
// the prefixes of your own proxies. Then X-Forwarded-For is read from the
// right, passing over addresses in trusted (your proxies, which each
// appended the address they received from), and the first address not
// in trusted is the client. When every address is trusted the leftmost
// is the client; when an entry is not an IP address, the address to its
// right is, since nothing written further left can be trusted. With no
// trusted prefixes X-Forwarded-For is ignored: anyone can write it.
//
// At most 32 entries are read: past that, the leftmost one read is the
// client. Entries may carry a port ("192.0.2.1:5000", "[2001:db8::1]:443").
// IPv4-mapped IPv6 addresses are returned as IPv4. When RemoteAddr is not
// an IP address (a Unix socket), its host part is returned as it is.
func ClientIP(r *http.Request, trusted []netip.Prefix) string {
	hops, ok := forwardedHops(r, trusted)
	if !ok {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if err != nil {
			return r.RemoteAddr
		}
		return host
	}
	return hops[0].String()
}

// forwardedHops returns the addresses r went through, from the client
// (first) to the direct peer (last), keeping only those that can be
// trusted, as ClientIP describes. ok is false when RemoteAddr is not an
// IP address.
func forwardedHops(r *http.Request, trusted []netip.Prefix) (hops []netip.Addr, ok bool) {
	peer, ok := parseHop(r.RemoteAddr)
	if !ok {
		return nil, false
	}
	hops = append(hops, peer)
	if !inPrefixes(peer, trusted) {
		return hops, true
	}
	values := r.Header["X-Forwarded-For"]
walk:
	for v := len(values) - 1; v >= 0; v-- {
		line := values[v]
		for line != "" {
			entry := line
			if i := strings.LastIndexByte(line, ','); i >= 0 {
				entry, line = line[i+1:], line[:i]
			} else {
				line = ""
			}
			a, ok := parseHop(entry)
			if !ok || len(hops) > maxForwardedHops {
				break walk
			}
			hops = append(hops, a)
			if !inPrefixes(a, trusted) {
				break walk
			}
		}
	}
	for i, j := 0, len(hops)-1; i < j; i, j = i+1, j-1 {
		hops[i], hops[j] = hops[j], hops[i]
	}
	return hops, true
}

// parseHop parses an address with or without a port, brackets or zone,
// as X-Forwarded-For entries and RemoteAddr have them.
func parseHop(s string) (netip.Addr, bool) {
	s = strings.TrimSpace(s)
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, perr := netip.ParseAddrPort(s)
		if perr != nil {
			if len(s) < 2 || s[0] != '[' || s[len(s)-1] != ']' {
				return netip.Addr{}, false
			}
			if a, err = netip.ParseAddr(s[1 : len(s)-1]); err != nil {
				return netip.Addr{}, false
			}
		} else {
			a = ap.Addr()
		}
	}
	return a.Unmap().WithZone(""), true
}

// dropClientIPHeaders deletes clientIPHeaders from r unless its direct
// peer is in trusted.
func dropClientIPHeaders(r *http.Request, trusted []netip.Prefix) {
	if len(trusted) > 0 {
		if peer, ok := parseHop(r.RemoteAddr); ok && inPrefixes(peer, trusted) {
			return
		}
	}
	for _, k := range clientIPHeaders {
		delete(r.Header, k)
	}
}

func inPrefixes(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// setForwarded sets X-Forwarded-For, X-Forwarded-Host (the original Host)
// and X-Forwarded-Proto on the outbound request.
//
// X-Forwarded-For is the trusted part of the chain (see ClientIP), client
// first, ending with the direct peer; with no trusted proxies, the peer
// alone. The client's own X-Forwarded-For is dropped otherwise, so the
// leftmost address an app reads is always the real client, never one a
// client made up. X-Forwarded-Proto is "https" when the client spoke TLS
// to the gateway, or a trusted peer says so.
//
// It does the work of ProxyRequest.SetXForwarded, which reads the prior
// chain from the outbound request, from which ReverseProxy has already
// removed it. Without trusted proxies it allocates nothing.
func setForwarded(x *exchange, in *http.Request, h http.Header, trusted []netip.Prefix) {
	putForwarded(x, h, forwardedValues(x, in, trusted))
}

// putForwarded sets in h the values forwardedValues computed into x.fwd.
func putForwarded(x *exchange, h http.Header, hasFor bool) {
	if hasFor {
		h["X-Forwarded-For"] = x.fwd[0:1:1]
	}
	h["X-Forwarded-Host"] = x.fwd[1:2:2]
	h["X-Forwarded-Proto"] = x.fwd[2:3:3]
}

// replaceForwarded puts setForwarded's headers in r's own header, in
// place of the client's Forwarded and X-Forwarded-*, for a handler that
// serves r in-process (a serverless stage) as a backend would: it gets
// what every backend gets, never what the client wrote.
func replaceForwarded(x *exchange, r *http.Request, trusted []netip.Prefix) {
	hasFor := forwardedValues(x, r, trusted)
	for _, k := range [...]string{"Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Forwarded-Proto"} {
		delete(r.Header, k)
	}
	putForwarded(x, r.Header, hasFor)
}

// forwardedValues computes setForwarded's values into x.fwd: the
// X-Forwarded-For chain (reporting whether there is one), the host and
// the scheme. It reads the client's headers and changes nothing.
func forwardedValues(x *exchange, in *http.Request, trusted []netip.Prefix) (hasFor bool) {
	x.fwd[2] = "http"
	if in.TLS != nil {
		x.fwd[2] = "https"
	}
	x.fwd[1] = in.Host
	if len(trusted) == 0 {
		ip, _, err := net.SplitHostPort(in.RemoteAddr)
		x.fwd[0] = ip
		return err == nil
	}
	hops, ok := forwardedHops(in, trusted)
	if !ok {
		return false
	}
	var b strings.Builder
	for i, a := range hops {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(a.String())
	}
	x.fwd[0] = b.String()
	if in.TLS == nil && inPrefixes(hops[len(hops)-1], trusted) { // the peer is a proxy of ours
		x.fwd[2] = forwardedProto(in.Header["X-Forwarded-Proto"], x.fwd[2])
	}
	return true
}

// forwardedProto is the scheme a trusted proxy received the request with
// (the last X-Forwarded-Proto entry), or def when it sent none we know.
func forwardedProto(values []string, def string) string {
	if len(values) == 0 {
		return def
	}
	v := values[len(values)-1]
	if i := strings.LastIndexByte(v, ','); i >= 0 {
		v = v[i+1:]
	}
	switch v = strings.TrimSpace(v); {
	case strings.EqualFold(v, "https"):
		return "https"
	case strings.EqualFold(v, "http"):
		return "http"
	}
	return def
}
