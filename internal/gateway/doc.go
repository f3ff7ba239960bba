// Package gateway is Slipway's data plane: it routes app traffic by Host
// (<stage>.<stack>.<domain>) to a backend instance through one shared,
// tuned reverse proxy.
//
// It owns the route table (an immutable snapshot swapped atomically, so
// serving never takes a lock), the choice of a backend through the
// Upstreams seam, forwarding headers, request ids, the JSON error
// responses of the data plane (404, 502, 504) and the access-log hook.
//
// It also owns retries: a request that fails with a connection error
// before any byte of a response (an instance killed, refusing or resetting
// connections) is sent to another instance of the stage when that is safe
// (a GET, HEAD or OPTIONS without a body; any request when nothing was
// sent), at most 3 attempts, each acquired and released through
// Upstreams. The default RoundRobin then skips the failed instance for a
// short while (passive health), before any controller has noticed.
//
// It must not know how instances are started, scaled or woken: whoever
// builds route tables (the container controller) and whoever implements
// Upstreams (the serverless activator) own that. It must not start
// listeners either; the server mounts Gateway as an http.Handler. It
// imports only the standard library.
package gateway
