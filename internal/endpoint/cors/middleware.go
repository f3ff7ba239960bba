package cors

import (
	"net/http"
	"strings"
)

// Middleware answers preflights itself and passes every other request to
// next, with the CORS headers of an allowed origin set on the response
// and the backend's own CORS headers dropped.
func (c *CORS) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		if r.Method == http.MethodOptions && origin != "" && r.Header.Get(hRequestMethod) != "" {
			c.preflight(w, r, origin)
			return
		}
		if !c.allowed(origin) {
			origin = ""
		}
		cw := &writer{ResponseWriter: w, c: c, origin: origin}
		next.ServeHTTP(cw, r)
		// A handler that wrote nothing leaves the server to send the
		// header map after it returns: fix it now.
		cw.fix()
	})
}

// preflight answers an OPTIONS preflight: 204, with the Allow headers
// when origin and method are allowed and without them otherwise.
func (c *CORS) preflight(w http.ResponseWriter, r *http.Request, origin string) {
	h := w.Header()
	method := r.Header.Get(hRequestMethod)
	vary := "Origin"
	if c.allowed(origin) && c.methodAllowed(method) {
		h[hAllowOrigin] = c.allowOrigin(origin)
		switch {
		case c.anyMethod:
			h[hAllowMethods] = []string{method}
			vary += ", " + hRequestMethod
		case c.allowMethods != nil:
			h[hAllowMethods] = c.allowMethods
		}
		requested := strings.Join(r.Header.Values(hRequestHeaders), ",")
		switch {
		case c.anyHeader && requested != "":
			h[hAllowHeaders] = []string{requested}
			vary += ", " + hRequestHeaders
		case c.allowHeaders != nil:
			h[hAllowHeaders] = c.allowHeaders
		}
		if c.maxAge != nil {
			h[hMaxAge] = c.maxAge
		}
		if c.credentials {
			h[hAllowCredentials] = c.credentialsV
		}
	}
	h.Add(hVary, vary)
	w.WriteHeader(http.StatusNoContent)
}

// writer replaces the backend's CORS headers with the configured ones
// when the response header is sent.
type writer struct {
	http.ResponseWriter
	c      *CORS
	origin string // allowed Origin of the request, "" when none
	fixed  bool
}

// fix sets the response's CORS headers, once.
func (w *writer) fix() {
	if w.fixed {
		return
	}
	w.fixed = true
	h := w.ResponseWriter.Header()
	for _, k := range corsHeaders {
		delete(h, k)
	}
	if !varies(h) {
		h.Add(hVary, "Origin")
	}
	if w.origin == "" {
		return
	}
	h[hAllowOrigin] = w.c.allowOrigin(w.origin)
	if w.c.credentials {
		h[hAllowCredentials] = w.c.credentialsV
	}
	if w.c.exposeHeaders != nil {
		h[hExposeHeaders] = w.c.exposeHeaders
	}
}

// varies reports whether h's Vary already covers Origin.
func varies(h http.Header) bool {
	for _, v := range h[hVary] {
		for f := range strings.SplitSeq(v, ",") {
			f = strings.TrimSpace(f)
			if f == "*" || strings.EqualFold(f, "Origin") {
				return true
			}
		}
	}
	return false
}

func (w *writer) WriteHeader(code int) {
	if code >= 200 { // 1xx responses carry no CORS headers and come again
		w.fix()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *writer) Write(b []byte) (int, error) {
	w.fix()
	return w.ResponseWriter.Write(b)
}

// Flush keeps streaming responses streaming through the wrapper.
func (w *writer) Flush() {
	w.fix()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap lets http.ResponseController reach the real writer (Hijack for
// websockets, deadlines).
func (w *writer) Unwrap() http.ResponseWriter { return w.ResponseWriter }
