package server

import (
	"crypto/tls"
	"net"
	"net/http"

	"github.com/slipwayhq/slipway/internal/gateway"
)

// gatewayHTTPS is the gateway's HTTPS server for ln, with tlsConfig
// (the certificate manager's: certificates by SNI, h2, http/1.1 and
// acme-tls/1), and the listener to Serve it on (not ServeTLS): TLS ends
// in a StrictTLSListener, so ambiguous framing is refused on HTTPS/1.1 as
// on the plain listener, and HTTP/2 connections pass as they are.
// TLSConfig lists h2, so Serve sets up HTTP/2 for them.
func gatewayHTTPS(h http.Handler, tlsConfig *tls.Config, ln net.Listener) (*http.Server, net.Listener) {
	srv := &http.Server{Handler: h, TLSConfig: tlsConfig,
		ReadHeaderTimeout: gateway.ReadHeaderTimeout, MaxHeaderBytes: gateway.MaxHeaderBytes, IdleTimeout: gateway.IdleTimeout,
		ConnContext: gateway.ConnContext} // per-stage idle timeouts on HTTP/1.1
	return srv, gateway.StrictTLSListener(ln, tlsConfig)
}
