package gateway

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func prefixes(t *testing.T, ps ...string) []netip.Prefix {
	t.Helper()
	var out []netip.Prefix
	for _, p := range ps {
		out = append(out, netip.MustParsePrefix(p))
	}
	return out
}

func TestClientIP(t *testing.T) {
	proxies := prefixes(t, "10.0.0.0/8", "fd00::/8")
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{"no trusted proxies: the peer", "203.0.113.9:5000", []string{"198.51.100.1"}, nil, "203.0.113.9"},
		{"untrusted peer: XFF ignored", "203.0.113.9:5000", []string{"198.51.100.1"}, proxies, "203.0.113.9"},
		{"trusted peer", "10.0.0.1:5000", []string{"198.51.100.1"}, proxies, "198.51.100.1"},
		{"trusted peer without XFF", "10.0.0.1:5000", nil, proxies, "10.0.0.1"},
		{"spoofed left part skipped", "10.0.0.1:5000", []string{"1.2.3.4, 198.51.100.1, 10.0.0.7"}, proxies, "198.51.100.1"},
		{"several header lines", "10.0.0.1:5000", []string{"1.2.3.4", "198.51.100.1", "10.0.0.7, 10.0.0.8"}, proxies, "198.51.100.1"},
		{"all trusted: the leftmost", "10.0.0.1:5000", []string{"10.9.9.9, 10.0.0.7"}, proxies, "10.9.9.9"},
		{"garbage: the hop right of it", "10.0.0.1:5000", []string{"198.51.100.1, nonsense, 10.0.0.7"}, proxies, "10.0.0.7"},
		{"garbage next to the peer", "10.0.0.1:5000", []string{"198.51.100.1, unknown"}, proxies, "10.0.0.1"},
		{"empty entry is garbage", "10.0.0.1:5000", []string{"198.51.100.1,,10.0.0.7"}, proxies, "10.0.0.7"},
		{"entries with ports", "10.0.0.1:5000", []string{"198.51.100.1:443, 10.0.0.7:80"}, proxies, "198.51.100.1"},
		{"IPv6", "[fd00::1]:5000", []string{"[2001:db8::1]:443, fd00::2"}, proxies, "2001:db8::1"},
		{"IPv6 bracketed", "[fd00::1]:5000", []string{"[2001:db8::2]"}, proxies, "2001:db8::2"},
		{"IPv4-mapped", "[::ffff:10.0.0.1]:5000", []string{"::ffff:198.51.100.1"}, proxies, "198.51.100.1"},
		{"zone", "[fe80::1%eth0]:5000", nil, prefixes(t, "fe80::/10"), "fe80::1"},
		{"not an IP peer", "@", nil, proxies, "@"},
		{"padded with trusted entries", "10.0.0.1:5000", []string{"198.51.100.1, " + strings.Repeat("10.0.0.5, ", 100) + "10.0.0.6"}, proxies, "10.0.0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.RemoteAddr = tt.remote
			r.Header["X-Forwarded-For"] = tt.xff
			if got := ClientIP(r, tt.trusted); got != tt.want {
				t.Fatalf("ClientIP = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestGatewayTrustedProxies(t *testing.T) {
	backend := echoBackend(t, "a")
	tests := []struct {
		name      string
		trusted   []netip.Prefix
		xff       []string
		xfp       string
		wantXFF   string
		wantProto string
	}{
		{"none: the peer only", nil, []string{"198.51.100.1"}, "https", "127.0.0.1", "http"},
		{"peer not trusted", prefixes(t, "10.0.0.0/8"), []string{"198.51.100.1"}, "https", "127.0.0.1", "http"},
		{"trusted: the trusted part of the chain", prefixes(t, "127.0.0.0/8", "10.0.0.0/8"), []string{"6.6.6.6, 198.51.100.1", "10.0.0.2"}, "https",
			"198.51.100.1, 10.0.0.2, 127.0.0.1", "https"},
		{"trusted, no XFF", prefixes(t, "127.0.0.0/8"), nil, "", "127.0.0.1", "http"},
		{"trusted, odd proto ignored", prefixes(t, "127.0.0.0/8"), []string{"198.51.100.1"}, "gopher", "198.51.100.1, 127.0.0.1", "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, front := newTestGateway(t, Config{TrustedProxies: tt.trusted}, route(testHost, backend))
			h := http.Header{"X-Forwarded-For": tt.xff}
			if tt.xfp != "" {
				h.Set("X-Forwarded-Proto", tt.xfp)
			}
			// The client-IP headers frameworks read before
			// X-Forwarded-For: kept only from a trusted peer.
			ipHeaders := []string{"X-Real-Ip", "True-Client-Ip", "Cf-Connecting-Ip", "x-client-ip", "CLIENT-IP"}
			for _, k := range ipHeaders {
				h[k] = []string{"6.6.6.6"}
			}
			_, body := get(t, newClient(t), front.URL, testHost, h)
			s := decodeSeen(t, body)
			peerTrusted := inPrefixes(netip.MustParseAddr("127.0.0.1"), tt.trusted)
			for _, k := range ipHeaders {
				if got, want := s.Header.Get(k) != "", peerTrusted; got != want {
					t.Errorf("%s reached the backend: %v, want %v (peer trusted: %v)", k, got, want, peerTrusted)
				}
			}
			if got := s.Header.Values("X-Forwarded-For"); len(got) != 1 || got[0] != tt.wantXFF {
				t.Errorf("X-Forwarded-For = %q, want %q", got, tt.wantXFF)
			}
			if got := s.Header.Values("X-Forwarded-Proto"); len(got) != 1 || got[0] != tt.wantProto {
				t.Errorf("X-Forwarded-Proto = %q, want %q", got, tt.wantProto)
			}
		})
	}
}
