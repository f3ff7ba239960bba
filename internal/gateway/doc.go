// Package gateway is Slipway's data plane: it routes app traffic by Host
// (<stage>.<stack>.<domain>) to a backend instance. Most requests (no
// upgrade, no body or a small one of known length) go through its own
// HTTP/1.1 forwarder, which writes the request and reads the response on
// a pooled backend connection from the serving goroutine (forward.go);
// the rest through one shared, tuned httputil.ReverseProxy.
//
// It owns the route table (an immutable snapshot swapped atomically, so
// serving never takes a lock), the choice of a backend through the
// Upstreams seam, forwarding headers, request ids, the JSON error
// responses of the data plane (404, 502, 504) and the access-log hook.
//
// Its own balancer picks among a route's backends by least outstanding
// requests (the default, as an ALB) or round robin, per Route.Balance;
// its counters live in the balancer, per host and per backend address,
// so they outlive table swaps. A route with Sticky pins each client to a
// backend with a cookie whose value is an HMAC of the instance ID.
//
// It also owns retries: a request that fails with a connection error
// before any byte of a response (an instance killed, refusing or resetting
// connections) is sent to another instance of the stage when that is safe
// (a GET, HEAD or OPTIONS without a body; any request when nothing was
// sent), at most 3 attempts, each acquired and released through
// Upstreams. The balancer then skips the failed instance for a short
// while (passive health), before any controller has noticed.
//
// And the edge's hygiene: X-Forwarded-For is believed only from
// Config.TrustedProxies (ClientIP), hop-by-hop headers are dropped,
// websockets pass through, StrictListener (plain HTTP) and
// StrictTLSListener (HTTPS/1.1; HTTP/2 passes as it is) reject requests
// whose framing could be read two ways (request smuggling), and
// ReadHeaderTimeout, MaxHeaderBytes, IdleTimeout and ConnContext are the
// settings the server should give the http.Server it mounts the gateway
// on. Through ConnContext, the HTTP/1.x connections of those listeners
// idle for the IdleTimeout of the route that served their last request.
//
// It must not know how instances are started, scaled or woken: whoever
// builds route tables (the container controller) and whoever implements
// Upstreams (the serverless activator) own that. It must not start
// listeners either; the server mounts Gateway as an http.Handler (and may
// wrap its listeners with StrictListener and StrictTLSListener). It
// imports only the standard library.
package gateway
