package certs

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestValidateDomain(t *testing.T) {
	tests := []struct {
		name string
		want string // substring of the error; "" for valid
	}{
		{"api.example.com", ""},
		{"a.b", ""},
		{"xn--bcher-kva.example", ""},
		{"my-app.example.co.uk", ""},
		{"", "empty name"},
		{"localhost", "needs a dot"},
		{"*.example.com", "wildcards need the DNS-01 challenge"},
		{"127.0.0.1", "IP addresses"},
		{"::1", "IP addresses"},
		{"[2001:db8::1]", "IP addresses"},
		{"api.example.com:443", "without a port"},
		{"https://api.example.com", "without a port or scheme"},
		{"API.example.com", "lower-case"},
		{"api.example.com.", "trailing dot"},
		{"api..example.com", "empty label"},
		{".example.com", "empty label"},
		{"-api.example.com", "hyphen"},
		{"api-.example.com", "hyphen"},
		{"api_x.example.com", `has '_'`},
		{"bücher.example", "punycode"},
		{strings.Repeat("a", 64) + ".example.com", "longer than 63"},
		{strings.Repeat("abcdefghi.", 26) + "com", "longer than 253"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateDomain(tt.name)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidateDomain(%q) = %v, want nil", tt.name, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ValidateDomain(%q) = %v, want error containing %q", tt.name, err, tt.want)
			}
			if !errors.Is(err, ErrInvalidDomain) {
				t.Errorf("error %v does not wrap ErrInvalidDomain", err)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
		})
	}
}

func TestDiffDomains(t *testing.T) {
	set := func(names ...string) map[string]struct{} {
		s := map[string]struct{}{}
		for _, n := range names {
			s[n] = struct{}{}
		}
		return s
	}
	tests := []struct {
		name         string
		have, want   map[string]struct{}
		add, removed []string
	}{
		{"from nothing", set(), set("b.x", "a.x"), []string{"a.x", "b.x"}, nil},
		{"to nothing", set("a.x"), set(), nil, []string{"a.x"}},
		{"same", set("a.x"), set("a.x"), nil, nil},
		{"swap one", set("a.x", "b.x"), set("b.x", "c.x"), []string{"c.x"}, []string{"a.x"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			add, remove := diffDomains(tt.have, tt.want)
			if !slices.Equal(add, tt.add) || !slices.Equal(remove, tt.removed) {
				t.Errorf("diffDomains = add %v remove %v, want add %v remove %v", add, remove, tt.add, tt.removed)
			}
		})
	}
}

func TestHostOnly(t *testing.T) {
	tests := map[string]string{
		"api.example.com":      "api.example.com",
		"API.Example.com:8080": "api.example.com",
		"api.example.com.":     "api.example.com",
		"api.example.com.:80":  "api.example.com",
		"[::1]:443":            "::1",
		"127.0.0.1:80":         "127.0.0.1",
		"[::1]":                "::1",
		"::1":                  "::1",
		"api.example.com:":     "api.example.com",
		"":                     "",
	}
	for in, want := range tests {
		if got := hostOnly(in); got != want {
			t.Errorf("hostOnly(%q) = %q, want %q", in, got, want)
		}
	}
	// The gateway's fast path asks it for every plain-HTTP request.
	if n := testing.AllocsPerRun(100, func() { hostOnly("api.example.com") }); n != 0 {
		t.Errorf("hostOnly allocates %v times per call", n)
	}
}
