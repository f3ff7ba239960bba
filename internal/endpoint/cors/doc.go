// Package cors is the gateway endpoint's CORS, as API Gateway HTTP APIs
// do it: a configuration (allow_origins, allow_methods, allow_headers,
// expose_headers, max_age, allow_credentials) checked once by New, and a
// middleware that answers preflights itself and adds the CORS headers to
// every other response.
//
// Behaviour, following API Gateway HTTP APIs where their documentation
// says so, and choosing where it is silent:
//
//   - A preflight is an OPTIONS request carrying both Origin and
//     Access-Control-Request-Method. It never reaches the backend (API
//     Gateway answers preflights even without an OPTIONS route). An
//     allowed one gets 204 with the Access-Control-Allow-* headers; one
//     from an origin or for a method that is not allowed gets 204 without
//     any of them (documentation silent: the browser then blocks the real
//     request, and the configuration is not disclosed). Requested headers
//     are not checked: the browser compares them with Allow-Headers.
//   - Origins are exact ("https://app.example.com", compared without case
//     and with default ports dropped), "*" for any, or API Gateway's
//     "https://*" and "http://*" for any origin of that scheme. "*" with
//     allow_credentials is refused by New, as browsers refuse that pair.
//   - Allow-Origin is "*" when "*" is configured and credentials are not;
//     otherwise the request's Origin is echoed.
//   - allow_methods and allow_headers take "*": the requested method or
//     headers are echoed back (a literal "*" would not work with
//     credentials). GET, HEAD and POST are always allowed in a preflight,
//     as browsers never need them listed.
//   - Any other request, a non-preflight OPTIONS included, goes to the
//     backend; if its Origin is allowed the response gets Allow-Origin,
//     Allow-Credentials and Expose-Headers. CORS headers the backend sets
//     are dropped, as API Gateway ignores them. Every response, allowed or
//     not, carries Vary: Origin, so that caches never serve one origin's
//     answer to another.
//
// It must not know routes, keys or JWTs; it is one http.Handler wrapper
// and imports only core and the standard library.
package cors
