// Package gateway is Slipway's data plane: it routes app traffic by Host
// (<stage>.<stack>.<domain>) to a backend instance.
//
// On plain HTTP, a Frontend serves the listener with its own HTTP/1.1
// server (frontend.go, fastconn.go; on Linux, event loops first,
// evloop_linux.go): the fast path reads a request head into the
// connection's buffer, parses a strict subset of HTTP/1.1 in place
// (fasthead.go), and relays the backend's response as it was
// framed, with no http.Request, header map or per-request goroutine. It
// takes the requests that make up nearly all traffic, on container
// routes without sticky sessions or a matching path route, and with no
// middleware or one that can decide from the head (Route.Admit: API keys,
// usage plans, throttles). At the first request it does not take, the
// connection, with the bytes read and not served, goes to an http.Server
// whose handler is the Gateway, and stays there. One sweeper per
// Frontend keeps the fast path's timeouts (fastclock.go).
//
// As an http.Handler (HTTPS, HTTP/2, and the connections handed over),
// the Gateway forwards most requests (no upgrade, no body or a small one
// of known length) with its own HTTP/1.1 client, which writes the
// request and reads the response on a pooled backend connection from the
// serving goroutine (forward.go); the rest through one shared, tuned
// httputil.ReverseProxy. Both paths share the pool of backend
// connections, the balancer, retries and the access-log hook.
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
// Upstreams (the serverless activator) own that. It must not open
// listeners either; the server serves its plain listener with a Frontend
// and mounts the Gateway as an http.Handler on HTTPS (and may wrap those
// listeners with StrictTLSListener). It imports only the standard library.
package gateway
