package web

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// SessionCookie is the dashboard's session cookie.
const SessionCookie = "slipway_session"

// Session lifetime and how many live sessions are kept at most (the
// oldest go first beyond it, so a flood of logins cannot grow memory).
const (
	SessionTTL  = 12 * time.Hour
	maxSessions = 1000
)

// session is one logged-in browser. Its id is the cookie value; the CSRF
// token is a separate random value bound to it, put in every form.
type session struct {
	id      string
	csrf    string
	expires time.Time
	flash   string // one message shown on the next page
	flashOK bool
}

// sessions are kept server-side in memory, by random id: logout really
// ends a session, and a restart ends them all (users log in again).
type sessions struct {
	mu   sync.Mutex
	byID map[string]*session
	now  func() time.Time
}

// newSessions returns an empty session store; now is the clock (time.Now).
func newSessions(now func() time.Time) *sessions {
	if now == nil {
		now = time.Now
	}
	return &sessions{byID: map[string]*session{}, now: now}
}

// checkToken reports whether tok is the admin token, in constant time
// (both sides hashed first so lengths leak nothing either).
func checkToken(tokenHash [32]byte, tok string) bool {
	h := sha256.Sum256([]byte(tok))
	return subtle.ConstantTimeCompare(h[:], tokenHash[:]) == 1
}

// Create starts a session and returns it.
func (s *sessions) Create() *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	for id, ss := range s.byID {
		if now.After(ss.expires) {
			delete(s.byID, id)
		}
	}
	for len(s.byID) >= maxSessions {
		var oldest *session
		for _, ss := range s.byID {
			if oldest == nil || ss.expires.Before(oldest.expires) {
				oldest = ss
			}
		}
		delete(s.byID, oldest.id)
	}
	ss := &session{id: randomToken(), csrf: randomToken(), expires: now.Add(SessionTTL)}
	s.byID[ss.id] = ss
	cp := *ss
	return &cp
}

// Get returns a copy of the live session with this id, or nil.
func (s *sessions) Get(id string) *session {
	if id == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byID[id]
	if ss == nil {
		return nil
	}
	if s.now().After(ss.expires) {
		delete(s.byID, id)
		return nil
	}
	cp := *ss
	return &cp
}

// Delete ends a session.
func (s *sessions) Delete(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.byID, id)
}

// SetFlash keeps a message for the session's next page.
func (s *sessions) SetFlash(id, msg string, ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ss := s.byID[id]; ss != nil {
		ss.flash, ss.flashOK = msg, ok
	}
}

// TakeFlash returns and clears the session's message.
func (s *sessions) TakeFlash(id string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.byID[id]
	if ss == nil {
		return "", false
	}
	msg, ok := ss.flash, ss.flashOK
	ss.flash, ss.flashOK = "", false
	return msg, ok
}

// validCSRF reports whether the form's token is the session's, in
// constant time. An empty token is never valid.
func validCSRF(ss *session, token string) bool {
	if ss == nil || token == "" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(ss.csrf), []byte(token)) == 1
}

// sessionCookie is the cookie carrying a session id: HttpOnly (scripts
// never see it), SameSite=Strict (other sites cannot send it), Secure when
// the dashboard is reached over TLS, scoped to /ui/.
func sessionCookie(r *http.Request, id string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: SessionCookie, Value: id, Path: "/ui/", MaxAge: maxAge,
		HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
