package gateway

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"
)

func TestCookieValue(t *testing.T) {
	tests := []struct {
		cookies []string
		want    string
	}{
		{nil, ""},
		{[]string{"slipway_sticky=abc"}, "abc"},
		{[]string{"a=1; slipway_sticky=abc; b=2"}, "abc"},
		{[]string{"a=1;slipway_sticky=abc"}, "abc"},
		{[]string{"a=1", "slipway_sticky=abc"}, "abc"},
		{[]string{`slipway_sticky="abc"`}, "abc"},
		{[]string{"slipway_sticky=abc; slipway_sticky=def"}, "abc"},
		{[]string{"slipway_sticky_other=abc"}, ""},
		{[]string{"xslipway_sticky=abc"}, ""},
		{[]string{"slipway_sticky"}, ""},
		{[]string{"slipway_sticky="}, ""},
	}
	for _, tt := range tests {
		if got := cookieValue(http.Header{"Cookie": tt.cookies}, StickyCookie); got != tt.want {
			t.Errorf("%q: %q, want %q", tt.cookies, got, tt.want)
		}
	}
	h := http.Header{"Cookie": {"session=1; theme=dark; slipway_sticky=abcdefghijklmnop"}}
	if n := testing.AllocsPerRun(100, func() { _ = cookieValue(h, StickyCookie) }); n != 0 {
		t.Fatalf("cookieValue allocates %v times", n)
	}
}

var stickyCookieFormat = regexp.MustCompile(`^slipway_sticky=[A-Za-z0-9_-]{16}; Path=/; Max-Age=90; HttpOnly; SameSite=Lax$`)

// stickyGet sends a GET with cookie (if any) and returns the backend that
// answered and the sticky cookie set, if any.
func stickyGet(t *testing.T, front *httptest.Server, cookie string) (backend, setCookie string) {
	t.Helper()
	var h http.Header
	if cookie != "" {
		h = http.Header{"Cookie": {"theme=dark; " + StickyCookie + "=" + cookie}}
	}
	resp, body := get(t, newClient(t), front.URL, testHost, h)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, body)
	}
	for _, c := range resp.Header.Values("Set-Cookie") {
		if strings.HasPrefix(c, StickyCookie+"=") {
			if setCookie != "" {
				t.Fatalf("two sticky cookies: %q", resp.Header.Values("Set-Cookie"))
			}
			setCookie = c
		}
	}
	return decodeSeen(t, body).ID, setCookie
}

func tokenOf(setCookie string) string {
	v, _, _ := strings.Cut(strings.TrimPrefix(setCookie, StickyCookie+"="), ";")
	return v
}

func TestGatewayStickySessions(t *testing.T) {
	a, b, c := echoBackend(t, "a"), echoBackend(t, "b"), echoBackend(t, "c")
	rt := route(testHost, a, b, c)
	rt.Sticky = 90 * time.Second
	g, front := newTestGateway(t, Config{}, rt)

	// The first response pins the client; the value reveals nothing.
	first, set := stickyGet(t, front, "")
	if !stickyCookieFormat.MatchString(set) {
		t.Fatalf("Set-Cookie = %q", set)
	}
	token := tokenOf(set)
	for _, leak := range []string{"inst-", "127.0.0.1", addrOf(a)} {
		if strings.Contains(set, leak) {
			t.Fatalf("cookie %q reveals %q", set, leak)
		}
	}
	// Pinned requests go to the same backend, without a new cookie,
	// while other clients are balanced.
	others := map[string]bool{}
	for range 6 {
		if got, set := stickyGet(t, front, token); got != first || set != "" {
			t.Fatalf("pinned request went to %s (want %s), Set-Cookie %q", got, first, set)
		}
		other, _ := stickyGet(t, front, "")
		others[other] = true
	}
	if len(others) != 3 {
		t.Fatalf("unpinned clients reached %v, want all three", others)
	}

	// An unknown or forged cookie: balanced as usual, and re-set.
	if _, set := stickyGet(t, front, "forged-value-xyz"); !stickyCookieFormat.MatchString(set) {
		t.Fatalf("forged cookie: Set-Cookie %q", set)
	}

	// The pinned backend fails: the client goes elsewhere and is re-pinned.
	tableRoute, _ := g.Table().Lookup(testHost)
	pinned := tableRoute.Backends[strings.Index("abc", first)]
	g.upstreams.(*balancer).Failed(tableRoute, pinned)
	moved, set := stickyGet(t, front, token)
	if moved == first || !stickyCookieFormat.MatchString(set) || tokenOf(set) == token {
		t.Fatalf("pinned backend skipped: went to %s, Set-Cookie %q", moved, set)
	}
	if got, set := stickyGet(t, front, tokenOf(set)); got != moved || set != "" {
		t.Fatalf("re-pinned: went to %s (want %s), Set-Cookie %q", got, moved, set)
	}

	// The pinned backend leaves the route: same.
	var rest []*httptest.Server
	for id, srv := range map[string]*httptest.Server{"a": a, "b": b, "c": c} {
		if id != moved {
			rest = append(rest, srv)
		}
	}
	rt2 := route(testHost, rest...)
	rt2.Sticky = rt.Sticky
	g.Update(NewRouteTable([]Route{rt2}))
	if got, set := stickyGet(t, front, tokenOf(set)); got == moved || set == "" {
		t.Fatalf("pinned backend gone: went to %s, Set-Cookie %q", got, set)
	}

	// Every request was counted out again.
	for _, srv := range []*httptest.Server{a, b, c} {
		if n := g.upstreams.(*balancer).outstanding(addrOf(srv)); n != 0 {
			t.Fatalf("%s: %d in flight", addrOf(srv), n)
		}
	}
}

func TestGatewayStickyCookieAttributes(t *testing.T) {
	rt := route(testHost, echoBackend(t, "a"))
	rt.Sticky = 1500 * time.Millisecond
	key := []byte("a stable key")
	var values []string
	for range 2 { // two gateways with one key make the same cookie
		g := New(Config{StickyKey: key})
		g.Update(NewRouteTable([]Route{rt}))
		t.Cleanup(g.CloseIdleConnections)
		req := httptest.NewRequest(http.MethodGet, "https://"+testHost+"/", nil)
		req.TLS = &tls.ConnectionState{}
		rec := httptest.NewRecorder()
		g.ServeHTTP(rec, req)
		values = append(values, rec.Header().Get("Set-Cookie"))
	}
	if !regexp.MustCompile(`^slipway_sticky=[A-Za-z0-9_-]{16}; Path=/; Max-Age=2; HttpOnly; SameSite=Lax; Secure$`).MatchString(values[0]) {
		t.Fatalf("Set-Cookie over TLS = %q", values[0])
	}
	if values[0] != values[1] {
		t.Fatalf("same key, different cookies: %q, %q", values[0], values[1])
	}
	if other := New(Config{}).sticky.tokens(&Route{Host: "x", Backends: []Backend{{ID: "inst-a"}}})[0]; strings.Contains(values[0], other) {
		t.Fatal("a random key made the same token")
	}
}

func TestGatewayNotStickyWithoutSticky(t *testing.T) {
	_, front := newTestGateway(t, Config{}, route(testHost, echoBackend(t, "a"), echoBackend(t, "b")))
	if _, set := stickyGet(t, front, ""); set != "" {
		t.Fatalf("Set-Cookie %q on a route without Sticky", set)
	}
	// Sticky needs the gateway's balancer: another Upstreams ignores it.
	rt := route(testHost, echoBackend(t, "a"))
	rt.Sticky = time.Minute
	_, front = newTestGateway(t, Config{Upstreams: upstreamsFunc(RoundRobin().Acquire)}, rt)
	if _, set := stickyGet(t, front, ""); set != "" {
		t.Fatalf("Set-Cookie %q with an Upstreams of one's own", set)
	}
}
