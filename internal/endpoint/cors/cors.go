package cors

import (
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// maxMaxAge is API Gateway's ceiling for maxAge (86,400 s).
const maxMaxAge = 24 * time.Hour

// Methods allow_methods may name, besides "*". CONNECT and TRACE are
// left out: browsers never send them cross-origin.
var knownMethods = []string{
	http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut,
	http.MethodPatch, http.MethodDelete, http.MethodOptions,
}

// Response header names, in canonical form so the header map is written
// directly.
const (
	hAllowOrigin      = "Access-Control-Allow-Origin"
	hAllowCredentials = "Access-Control-Allow-Credentials"
	hAllowMethods     = "Access-Control-Allow-Methods"
	hAllowHeaders     = "Access-Control-Allow-Headers"
	hExposeHeaders    = "Access-Control-Expose-Headers"
	hMaxAge           = "Access-Control-Max-Age"
	hRequestMethod    = "Access-Control-Request-Method"
	hRequestHeaders   = "Access-Control-Request-Headers"
	hVary             = "Vary"
)

// corsHeaders are the response headers CORS owns; a backend's are dropped.
var corsHeaders = []string{hAllowOrigin, hAllowCredentials, hAllowMethods, hAllowHeaders, hExposeHeaders, hMaxAge}

// CORS is a checked CORS configuration. It is immutable and safe for
// concurrent use.
type CORS struct {
	anyOrigin   bool                // "*"
	schemes     []string            // "https://" for "https://*"
	origins     map[string]struct{} // exact, lowercased, default port dropped
	credentials bool

	anyMethod bool
	methods   map[string]struct{}
	anyHeader bool

	// Precomputed header values, shared by every response (never
	// appended to: each is a one-element slice).
	allowMethods  []string // nil when none configured
	allowHeaders  []string // nil when none configured
	exposeHeaders []string
	maxAge        []string
	credentialsV  []string
	star          []string
}

// New checks spec and returns the CORS it describes. Errors are one line
// and carry core.CodeInvalid.
func New(spec core.CORSSpec) (*CORS, error) {
	c := &CORS{
		origins:     map[string]struct{}{},
		methods:     map[string]struct{}{},
		credentials: spec.AllowCredentials,
		star:        []string{"*"},
	}
	if len(spec.AllowOrigins) == 0 {
		return nil, invalid("cors: allow_origins is empty; list origins as scheme://host[:port], or \"*\"")
	}
	for _, o := range spec.AllowOrigins {
		if err := c.addOrigin(o); err != nil {
			return nil, err
		}
	}
	if c.anyOrigin && c.credentials {
		return nil, invalid("cors: allow_origins \"*\" cannot go with allow_credentials (browsers refuse it); list the origins instead")
	}
	var methods []string
	for _, m := range spec.AllowMethods {
		u := strings.ToUpper(strings.TrimSpace(m))
		switch {
		case u == "*":
			c.anyMethod = true
		case isKnownMethod(u):
			if _, dup := c.methods[u]; !dup {
				c.methods[u] = struct{}{}
				methods = append(methods, u)
			}
		default:
			return nil, invalid("cors: allow_methods %q: want %s or \"*\"", m, strings.Join(knownMethods, ", "))
		}
	}
	if len(methods) > 0 {
		c.allowMethods = []string{strings.Join(methods, ",")}
	}
	headers, anyHeader, err := headerList("allow_headers", spec.AllowHeaders)
	if err != nil {
		return nil, err
	}
	c.anyHeader = anyHeader
	if len(headers) > 0 {
		c.allowHeaders = []string{strings.Join(headers, ",")}
	}
	expose, anyExpose, err := headerList("expose_headers", spec.ExposeHeaders)
	if err != nil {
		return nil, err
	}
	if anyExpose {
		// A literal "*": browsers honour it without credentials only.
		expose = append(expose, "*")
	}
	if len(expose) > 0 {
		c.exposeHeaders = []string{strings.Join(expose, ",")}
	}
	switch age := spec.MaxAge.D(); {
	case age < 0 || age > maxMaxAge:
		return nil, invalid("cors: max_age %s: want between 0s and 24h", age)
	case age >= time.Second:
		c.maxAge = []string{strconv.Itoa(int(age / time.Second))}
	}
	if c.credentials {
		c.credentialsV = []string{"true"}
	}
	return c, nil
}

func invalid(format string, args ...any) error {
	return core.Errorf(core.CodeInvalid, format, args...)
}

func isKnownMethod(m string) bool {
	for _, k := range knownMethods {
		if m == k {
			return true
		}
	}
	return false
}

// addOrigin checks one allow_origins entry and records it.
func (c *CORS) addOrigin(o string) error {
	const want = "want \"*\", \"https://*\", \"http://*\" or scheme://host[:port] without a path"
	switch o {
	case "*":
		c.anyOrigin = true
		return nil
	case "https://*", "http://*":
		c.schemes = append(c.schemes, strings.TrimSuffix(o, "*"))
		return nil
	}
	norm, ok := normalizeOrigin(o)
	if !ok {
		return invalid("cors: allow_origins %q: %s", o, want)
	}
	c.origins[norm] = struct{}{}
	return nil
}

// normalizeOrigin lowercases a scheme://host[:port] origin and drops a
// default port, as browsers serialize Origin; ok is false for anything
// else (a path, a query, user info, "null").
func normalizeOrigin(o string) (string, bool) {
	u, err := url.Parse(o)
	if err != nil || u.Scheme == "" || u.Host == "" || u.User != nil || u.Path != "" ||
		u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || strings.HasSuffix(o, "?") || strings.HasSuffix(o, "#") {
		return "", false
	}
	host, port := strings.ToLower(u.Hostname()), u.Port()
	if host == "" || strings.Contains(host, "*") {
		return "", false
	}
	if strings.HasSuffix(u.Host, ":") {
		return "", false
	}
	if port != "" {
		n, err := strconv.Atoi(port)
		if err != nil || n < 1 || n > 65535 {
			return "", false
		}
	}
	scheme := strings.ToLower(u.Scheme)
	if (scheme == "https" && port == "443") || (scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") { // IPv6 literal
		host = "[" + host + "]"
	}
	if port != "" {
		return scheme + "://" + host + ":" + port, true
	}
	return scheme + "://" + host, true
}

// headerList checks header names; any reports a "*" among them.
func headerList(field string, names []string) (list []string, any bool, err error) {
	for _, h := range names {
		h = strings.TrimSpace(h)
		switch {
		case h == "*":
			any = true
		case isToken(h):
			list = append(list, h)
		default:
			return nil, false, invalid("cors: %s %q: want a header name (letters, digits, -) or \"*\"", field, h)
		}
	}
	return list, any, nil
}

// isToken reports whether s is an RFC 9110 token (header names, methods).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		b := s[i]
		switch {
		case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0:
		default:
			return false
		}
	}
	return true
}

// allowed reports whether a request's Origin is allowed.
func (c *CORS) allowed(origin string) bool {
	if origin == "" {
		return false
	}
	if c.anyOrigin {
		return true
	}
	lower := strings.ToLower(origin) // no allocation when already lowercase, as browsers send it
	if _, ok := c.origins[lower]; ok {
		return true
	}
	for _, s := range c.schemes {
		if len(lower) > len(s) && strings.HasPrefix(lower, s) {
			return true
		}
	}
	// An explicit default port ("https://a.example:443") matches its
	// normalized form; browsers never send one, so this path is rare.
	if strings.Count(lower, ":") > 1 {
		if norm, ok := normalizeOrigin(lower); ok {
			_, found := c.origins[norm]
			return found
		}
	}
	return false
}

// allowOrigin is the Access-Control-Allow-Origin value for an allowed
// origin.
func (c *CORS) allowOrigin(origin string) []string {
	if c.anyOrigin && !c.credentials {
		return c.star
	}
	return []string{origin}
}

// methodAllowed reports whether a preflight's requested method is allowed.
func (c *CORS) methodAllowed(m string) bool {
	if !isToken(m) {
		return false
	}
	if c.anyMethod {
		return true
	}
	switch m {
	case http.MethodGet, http.MethodHead, http.MethodPost:
		return true // CORS-safelisted: browsers never need them listed
	}
	_, ok := c.methods[m]
	return ok
}
