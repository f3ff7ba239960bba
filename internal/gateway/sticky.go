package gateway

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// StickyCookie is the cookie that pins a client to a backend on a route
// with Sticky set. Its value names the backend without revealing it: see
// stickiness.
const StickyCookie = "slipway_sticky"

// stickyTokenLen is how many bytes of the HMAC a token keeps: 96 bits
// cannot be guessed, and 16 base64 characters keep the cookie short.
const stickyTokenLen = 12

// pinner is implemented by the gateway's own balancers, for sticky
// sessions: acquire the backend a cookie names, unless it is unhealthy.
type pinner interface {
	acquirePinned(r *Route, i int) (Backend, func(), bool)
}

// stickiness turns backends into cookie values and back.
//
// A value is an HMAC-SHA256 of the backend's instance ID under a key of
// the gateway, cut to 96 bits: instance IDs name containers (stack,
// stage, release, sequence) and are guessable, and a cookie is sent to
// the browser and to every script or proxy that sees it. A keyed hash
// reveals nothing and cannot be forged to aim at an instance the client
// was never sent to; being derived from the ID, not the address, it
// keeps naming an instance whose address changed. With a random key (the
// default) a restart of the gateway re-pins every client once.
type stickiness struct {
	key   []byte
	hosts sync.Map // normalised host → *atomic.Pointer[stickyTokens]
}

// stickyTokens are the cookie values of a route's backends, in order,
// rebuilt (with one HMAC per backend) when the host's route changes.
type stickyTokens struct {
	backends []Backend // the route's slice they were built for, compared by identity
	tokens   []string
}

func newStickiness(key []byte) *stickiness {
	if len(key) == 0 {
		key = make([]byte, 32)
		_, _ = rand.Read(key) // never fails on supported platforms
	}
	return &stickiness{key: key}
}

// tokens returns the cookie values of r's backends.
func (s *stickiness) tokens(r *Route) []string {
	p, ok := s.hosts.Load(r.Host)
	if !ok {
		p, _ = s.hosts.LoadOrStore(r.Host, new(atomic.Pointer[stickyTokens]))
	}
	ptr := p.(*atomic.Pointer[stickyTokens])
	if t := ptr.Load(); t != nil && len(t.backends) == len(r.Backends) && (len(r.Backends) == 0 || &t.backends[0] == &r.Backends[0]) {
		return t.tokens
	}
	t := &stickyTokens{backends: r.Backends, tokens: make([]string, len(r.Backends))}
	mac := hmac.New(sha256.New, s.key)
	for i, b := range r.Backends {
		mac.Reset()
		mac.Write([]byte(b.ID))
		t.tokens[i] = base64.RawURLEncoding.EncodeToString(mac.Sum(nil)[:stickyTokenLen])
	}
	ptr.Store(t)
	return t.tokens
}

// index returns the index in r.Backends of the backend token names, or -1.
func (s *stickiness) index(r *Route, token string) int {
	for i, t := range s.tokens(r) {
		if t == token {
			return i
		}
	}
	return -1
}

// token returns the cookie value of b, one of r's backends, or "".
func (s *stickiness) token(r *Route, b Backend) string {
	tokens := s.tokens(r)
	for i, rb := range r.Backends {
		if rb.ID == b.ID && rb.Addr == b.Addr {
			return tokens[i]
		}
	}
	return ""
}

// stickyCookie is the Set-Cookie value pinning a client to token for
// maxAge. The cookie is for the whole host (Path=/), out of scripts'
// reach (HttpOnly), sent on top-level navigation from other sites but not
// on their subrequests (SameSite=Lax), and Secure when the client spoke
// HTTPS. Max-Age is rounded up to whole seconds.
func stickyCookie(token string, maxAge time.Duration, secure bool) string {
	secs := int64((maxAge + time.Second - 1) / time.Second)
	v := StickyCookie + "=" + token + "; Path=/; Max-Age=" + strconv.FormatInt(secs, 10) + "; HttpOnly; SameSite=Lax"
	if secure {
		v += "; Secure"
	}
	return v
}

// cookieValue returns the value of the first cookie called name in h's
// Cookie headers, or "". Unlike http.Request.Cookie it parses nothing
// else, and allocates nothing.
func cookieValue(h http.Header, name string) string {
	for _, line := range h["Cookie"] {
		for line != "" {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimLeft(part, " \t")
			if v, ok := strings.CutPrefix(part, name); ok && strings.HasPrefix(v, "=") {
				return strings.Trim(strings.TrimRight(v[1:], " \t"), `"`)
			}
		}
	}
	return ""
}

// acquirePinned is the sticky-session hook, between the route lookup and
// Acquire: it acquires the backend the request's cookie names when that
// backend is in the route and healthy, and reports whether it did. It
// also marks x sticky, so that the response sets the cookie when the
// backend that answers is not the one the cookie named.
func (g *Gateway) acquirePinned(x *exchange, r *http.Request, route *Route) (Backend, func(), bool) {
	x.sticky = true
	token := cookieValue(r.Header, StickyCookie)
	if token == "" {
		return Backend{}, nil, false
	}
	x.stickyToken = token
	i := g.sticky.index(route, token)
	if i < 0 {
		return Backend{}, nil, false
	}
	return g.pin.acquirePinned(route, i)
}

// setStickyCookie adds the cookie pinning the client to the backend that
// answered, unless the request's cookie named it already: the cookie is
// set once per pinning, not on every response, so that it expires Sticky
// after the client was pinned (as its Max-Age says) and cacheable
// responses do not all carry a Set-Cookie.
func (g *Gateway) setStickyCookie(x *exchange, h http.Header) {
	token := g.sticky.token(x.route, x.backend)
	if token == "" || token == x.stickyToken {
		return
	}
	h["Set-Cookie"] = append(h["Set-Cookie"], stickyCookie(token, x.route.Sticky, x.fwd[2] == "https"))
}
