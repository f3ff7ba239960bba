package gateway

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// Backend is one instance a route can send requests to.
type Backend struct {
	ID   string // instance id, for logs and the access log
	Addr string // "ip:port" reachable from the gateway
	// Serve, when set, answers the request itself instead of the gateway
	// proxying it to Addr (the serverless activator does, to enforce its
	// limits and to speak the Lambda Runtime API). The gateway does not
	// retry such a backend; Serve owns the whole response.
	Serve http.Handler
}

// Route maps one host to the backends of one stage of one stack.
type Route struct {
	Host     string
	Stack    string
	Stage    string
	Backends []Backend
	// Upstreams, when set, picks this route's backends instead of the
	// gateway's (a serverless stage's activator); Backends, Balance and
	// Sticky are then unused.
	Upstreams Upstreams

	// Balance is how the gateway's own balancer picks among Backends:
	// BalanceLeastOutstanding (also when empty or unknown) or
	// BalanceRoundRobin. The balancer keeps its counters per host and per
	// backend address, not in the route, so they carry over from one
	// route table to the next. A Config.Upstreams of your own ignores it.
	Balance string

	// Sticky, when positive, pins each client to one backend with a
	// cookie (StickyCookie) that lasts this long: while that backend is in
	// the route and not skipped after a failure, the client's requests go
	// to it; otherwise they are balanced as usual and the cookie is set
	// anew. It needs the gateway's own balancer.
	Sticky time.Duration

	// Middleware, when set, wraps the route's request path: it sees
	// every request before a backend is acquired and may answer it
	// itself (the gateway endpoint's keys, JWT, CORS and throttles). It
	// is applied once per route table, not per request.
	Middleware func(next http.Handler) http.Handler
	// Admit, when set with Middleware, makes the same checks as
	// Middleware from a request's head alone, for the Frontend's fast
	// path: it must answer every request exactly as Middleware would,
	// and is only set when it can (API keys, usage plans, throttles and
	// the payload limit can be checked on a head; JWT and CORS are not).
	// A route with Middleware and no Admit is served by net/http.
	Admit func(AdmitRequest) Admission
	// Timeout, when positive, bounds each request's round trip to a
	// backend; past it the gateway answers 504.
	Timeout time.Duration
	// IdleTimeout, when positive, is how long a client's HTTP/1.x
	// connection may idle after a request this route served (a
	// balancer's idle_timeout); otherwise the server's IdleTimeout
	// applies. It needs ConnContext; see idle.go.
	IdleTimeout time.Duration
	// Paths send requests whose path starts with a prefix to another
	// route (by host): the longest prefix wins, matched on whole path
	// segments, and Strip removes it from the path.
	Paths []PathRoute
}

// PathRoute sends a path prefix of a route to the route of Host.
type PathRoute struct {
	Prefix string
	Host   string
	Strip  bool
}

// match returns the path route for path with the longest prefix, if any.
func (r *Route) match(path string) (PathRoute, bool) {
	best, found := PathRoute{}, false
	for _, p := range r.Paths {
		pre := strings.TrimSuffix(p.Prefix, "/")
		if path != pre && !strings.HasPrefix(path, pre+"/") && pre != "" {
			continue
		}
		if !found || len(p.Prefix) > len(best.Prefix) {
			best, found = p, true
		}
	}
	return best, found
}

// RouteTable is an immutable snapshot of every route the gateway serves.
// Build a new table for every change and hand it to Gateway.Update; a
// table is never modified after NewRouteTable returns, which is what lets
// the gateway read it without locks.
type RouteTable struct {
	byHost map[string]*Route
	sorted []*Route
}

// NewRouteTable builds a table from routes. It copies what it keeps, so
// the caller may reuse or modify routes afterwards. Hosts are normalised
// like Lookup's argument (lower case, no port, no trailing dot); routes
// with an empty host are dropped, and when two routes share a host the
// first one wins so the result does not depend on map order upstream.
func NewRouteTable(routes []Route) *RouteTable {
	t := &RouteTable{byHost: make(map[string]*Route, len(routes))}
	for _, r := range routes {
		host := normalizeHost(r.Host)
		if host == "" {
			continue
		}
		if _, dup := t.byHost[host]; dup {
			continue
		}
		r.Host = host
		r.Backends = slices.Clone(r.Backends)
		t.byHost[host] = &r
		t.sorted = append(t.sorted, &r)
	}
	slices.SortFunc(t.sorted, func(a, b *Route) int { return strings.Compare(a.Host, b.Host) })
	return t
}

// Lookup finds the route for a Host header value. It ignores case, a
// :port suffix and a trailing dot. The returned route belongs to the table
// and must not be modified.
func (t *RouteTable) Lookup(host string) (*Route, bool) {
	if t == nil {
		return nil, false
	}
	r, ok := t.byHost[normalizeHost(host)]
	return r, ok
}

// Routes returns a copy of every route, sorted by host, for status and
// debugging. Changing the result does not change the table.
func (t *RouteTable) Routes() []Route {
	if t == nil {
		return nil
	}
	out := make([]Route, len(t.sorted))
	for i, r := range t.sorted {
		out[i] = *r
		out[i].Backends = slices.Clone(r.Backends)
	}
	return out
}

// Len is the number of routes in the table.
func (t *RouteTable) Len() int {
	if t == nil {
		return 0
	}
	return len(t.sorted)
}

// normalizeHost lower-cases host and strips a :port and a trailing dot.
// It does not allocate when host is already lower case, which is the
// common case on the request path.
func normalizeHost(host string) string {
	if i := strings.LastIndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i:], ']') < 0 {
		host = host[:i] // "[::1]:8080" → "[::1]", but "[::1]" is kept whole
	}
	host = strings.TrimSuffix(host, ".")
	return strings.ToLower(host)
}

// AdmitRequest is what Route.Admit sees of a request.
type AdmitRequest struct {
	APIKey        string // the X-Api-Key header's value ("" without one)
	ContentLength int64
}

// Admission is Route.Admit's answer: a zero Status lets the request
// through; any other is the response to send instead, with Header and
// Body. APIKeyName, when set, is the name of the API key the request
// used, for the access log.
type Admission struct {
	Status     int
	Header     http.Header
	Body       []byte
	APIKeyName string
}
