// Package certs owns the certificates of custom domains: it obtains them
// from an ACME CA (Let's Encrypt by default), keeps them under the data
// dir (<data-dir>/certs), renews them, and hands the gateway what it needs
// to serve them: a tls.Config that picks a certificate by SNI and answers
// TLS-ALPN-01 challenges, and an http.Handler for the plain-HTTP listener
// that answers HTTP-01 challenges and redirects hosts that have a
// certificate to https.
//
// It wraps certmagic with explicit management only: a certificate is
// obtained for the names handed to Manager.Manage and for no other name
// (no on-demand issuance, so a stranger's SNI can never make us place an
// order). Only HTTP-01 and TLS-ALPN-01 are used, so wildcard names are
// refused.
//
// It must not own listeners: the server binds the plain and TLS addresses
// (configurable, :80 and :443 by default) and mounts what this package
// returns. certmagic is told those addresses so that its solvers find
// them taken and rely on them instead of binding ports of their own. It
// must not know about stacks, stages or routes either; the caller maps
// domains to apps and passes the whole set of domains to Manage.
package certs
