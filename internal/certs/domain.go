package certs

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
)

// ErrInvalidDomain is wrapped by every error ValidateDomain returns, so the
// API can answer 400 without parsing messages.
var ErrInvalidDomain = errors.New("invalid domain")

// ValidateDomain reports, in one line, why name cannot be a custom domain.
// Names are taken as typed: a name with upper-case letters is refused
// rather than silently lowered, so what the user stored is what is served.
func ValidateDomain(name string) error {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInvalidDomain, name, why) }
	switch {
	case name == "":
		return fmt.Errorf("%w: empty name", ErrInvalidDomain)
	case strings.Contains(name, "*"):
		return bad("wildcards need the DNS-01 challenge, which is not supported; add each name")
	case net.ParseIP(strings.Trim(name, "[]")) != nil:
		return bad("IP addresses cannot get certificates here; use a DNS name")
	case strings.Contains(name, ":"):
		return bad("give the name without a port or scheme")
	case strings.ToLower(name) != name:
		return bad("must be lower-case")
	case strings.HasSuffix(name, "."):
		return bad("drop the trailing dot")
	case len(name) > 253:
		return bad("longer than 253 characters")
	case !strings.Contains(name, "."):
		return bad("needs a dot, like api.example.com")
	}
	for label := range strings.SplitSeq(name, ".") {
		if err := validateLabel(label); err != "" {
			return bad(err)
		}
	}
	return nil
}

// validateLabel returns why one dot-separated label is not a valid host
// name label (RFC 1123), or "".
func validateLabel(label string) string {
	switch {
	case label == "":
		return "empty label (two dots in a row, or a leading dot)"
	case len(label) > 63:
		return fmt.Sprintf("label %q is longer than 63 characters", label)
	case label[0] == '-' || label[len(label)-1] == '-':
		return fmt.Sprintf("label %q starts or ends with a hyphen", label)
	}
	for _, c := range label {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Sprintf("label %q has %q; only a-z, 0-9 and - are allowed (use punycode for other scripts)", label, c)
		}
	}
	return ""
}

// domainSet validates names and returns them as a set.
func domainSet(names []string) (map[string]struct{}, error) {
	set := make(map[string]struct{}, len(names))
	for _, n := range names {
		if err := ValidateDomain(n); err != nil {
			return nil, err
		}
		set[n] = struct{}{}
	}
	return set, nil
}

// diffDomains returns the names in want but not in have (to start managing)
// and in have but not in want (to stop managing), each sorted.
func diffDomains(have, want map[string]struct{}) (add, remove []string) {
	for n := range want {
		if _, ok := have[n]; !ok {
			add = append(add, n)
		}
	}
	for n := range have {
		if _, ok := want[n]; !ok {
			remove = append(remove, n)
		}
	}
	slices.Sort(add)
	slices.Sort(remove)
	return add, remove
}

// hostOnly returns the lower-cased host of a Host header or SNI value,
// without port, brackets or trailing dot.
// It runs for every plain-HTTP request the gateway's fast path serves
// (Manager.Intercepts), so it cuts the port itself: net.SplitHostPort
// allocates an error for every host without one.
func hostOnly(hostport string) string {
	host := hostport
	if strings.HasPrefix(host, "[") {
		if i := strings.LastIndexByte(host, ']'); i > 0 {
			host = host[:i+1] // "[::1]:8080" → "[::1]"
		}
	} else if i := strings.IndexByte(host, ':'); i >= 0 && strings.IndexByte(host[i+1:], ':') < 0 {
		host = host[:i] // "a.example.com:8080"; a bare IPv6 address keeps its colons
	}
	host = strings.TrimSuffix(strings.Trim(host, "[]"), ".")
	return strings.ToLower(host)
}
