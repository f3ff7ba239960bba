package web

import (
	"crypto/sha256"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestSessionsLifecycle(t *testing.T) {
	now := t0
	s := newSessions(func() time.Time { return now })
	a := s.Create()
	if a.id == "" || a.csrf == "" || a.id == a.csrf {
		t.Fatalf("session id %q and csrf %q must be distinct random values", a.id, a.csrf)
	}
	if b := s.Create(); b.id == a.id || b.csrf == a.csrf {
		t.Fatal("two sessions share an id or a CSRF token")
	}
	if got := s.Get(a.id); got == nil || got.csrf != a.csrf {
		t.Fatalf("Get(live) = %+v", got)
	}
	if s.Get("") != nil || s.Get("forged") != nil {
		t.Fatal("an unknown id found a session")
	}
	s.SetFlash(a.id, "done", true)
	if msg, ok := s.TakeFlash(a.id); msg != "done" || !ok {
		t.Fatalf("flash = %q %v", msg, ok)
	}
	if msg, _ := s.TakeFlash(a.id); msg != "" {
		t.Fatalf("a flash is shown once, got %q again", msg)
	}
	now = now.Add(SessionTTL + time.Second)
	if s.Get(a.id) != nil {
		t.Fatal("an expired session is still valid")
	}
	now = t0
	c := s.Create()
	s.Delete(c.id)
	if s.Get(c.id) != nil {
		t.Fatal("a logged-out session is still valid")
	}
}

func TestSessionsBounded(t *testing.T) {
	now := t0
	s := newSessions(func() time.Time { return now })
	first := s.Create()
	for i := 0; i < maxSessions+10; i++ {
		now = now.Add(time.Millisecond)
		s.Create()
	}
	if n := len(s.byID); n != maxSessions {
		t.Fatalf("%d sessions kept, want at most %d", n, maxSessions)
	}
	if s.Get(first.id) != nil {
		t.Fatal("the oldest session survived the cap")
	}
}

func TestValidCSRF(t *testing.T) {
	ss := &session{id: "id", csrf: "token-a"}
	cases := []struct {
		name  string
		ss    *session
		token string
		want  bool
	}{
		{"the session's token", ss, "token-a", true},
		{"missing", ss, "", false},
		{"another session's", ss, "token-b", false},
		{"a prefix", ss, "token", false},
		{"no session", nil, "token-a", false},
		{"empty session token never matches empty", &session{}, "", false},
	}
	for _, c := range cases {
		if got := validCSRF(c.ss, c.token); got != c.want {
			t.Errorf("%s: validCSRF = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestCheckToken(t *testing.T) {
	h := sha256.Sum256([]byte("slw_secret"))
	for tok, want := range map[string]bool{"slw_secret": true, "": false, "slw_secre": false, "slw_secret ": false, "SLW_SECRET": false} {
		if got := checkToken(h, tok); got != want {
			t.Errorf("checkToken(%q) = %v, want %v", tok, got, want)
		}
	}
}

func TestSessionCookieAttributes(t *testing.T) {
	r := httptest.NewRequest("GET", "http://127.0.0.1:7070/ui/", nil)
	c := sessionCookie(r, "abc", 60)
	if !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.Secure || c.Path != "/ui/" {
		t.Fatalf("plain HTTP cookie: %+v", c)
	}
	r.TLS = &tls.ConnectionState{}
	if c := sessionCookie(r, "abc", 60); !c.Secure {
		t.Fatal("the cookie is not Secure over TLS")
	}
}

func TestSafeNext(t *testing.T) {
	for in, want := range map[string]string{
		"":                      "/ui/",
		"/ui/stacks/a":          "/ui/stacks/a",
		"/ui/stacks/a?range=7d": "/ui/stacks/a?range=7d",
		"https://evil.example/": "/ui/",
		"//evil.example/ui/":    "/ui/",
		"/v1/stacks":            "/ui/",
		"/ui/\\evil":            "/ui/",
	} {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}
