// Package jwtauth is the gateway endpoint's JWT authorizer, modelled on
// API Gateway HTTP APIs' one: it reads a bearer token, verifies its
// signature against the identity provider's JWKS, checks iss, aud (or
// client_id), exp, nbf and iat, and the scopes the request path needs.
//
// It owns the JWKS cache (fetched on first use, refreshed in the
// background and on an unknown kid) and the mapping of its refusals to
// API Gateway's bodies in Middleware. It must not route, throttle, or
// pass claims on to the backend: those are the gateway's.
package jwtauth
