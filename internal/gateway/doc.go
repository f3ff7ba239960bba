// Package gateway is Slipway's data plane: it routes app traffic by Host
// (<stage>.<stack>.<domain>) to a backend instance through one shared,
// tuned reverse proxy.
//
// It owns the route table (an immutable snapshot swapped atomically, so
// serving never takes a lock), the choice of a backend through the
// Upstreams seam, forwarding headers, request ids, the JSON error
// responses of the data plane (404, 502, 504) and the access-log hook.
//
// It must not know how instances are started, scaled or woken: whoever
// builds route tables (the container controller) and whoever implements
// Upstreams (the serverless activator) own that. It must not start
// listeners either; the server mounts Gateway as an http.Handler. It
// imports only the standard library.
package gateway
