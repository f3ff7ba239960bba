package web

import (
	"net/http"
	"strings"
)

type loginView struct {
	Next  string
	Error string
}

func (d *Dashboard) loginPage(w http.ResponseWriter, r *http.Request) {
	if d.current(r) != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	d.renderLogin(w, r, http.StatusOK, loginView{Next: safeNext(r.URL.Query().Get("next"))})
}

// login checks the admin token and starts a session. A cross-site
// login is refused by its Origin, so another site cannot log a browser
// in behind its user's back.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	next := safeNext(r.PostFormValue("next"))
	if !sameOrigin(r) {
		http.Error(w, "403 forbidden: cross-site login refused", http.StatusForbidden)
		return
	}
	if !checkToken(d.tokenHash, strings.TrimSpace(r.PostFormValue("token"))) {
		d.log.Warn("dashboard login with a wrong token", "remote", r.RemoteAddr)
		d.renderLogin(w, r, http.StatusUnauthorized, loginView{Next: next,
			Error: "That is not the admin token. It is in the server's credentials file (slipway prints its path at start)."})
		return
	}
	ss := d.sessions.Create()
	http.SetCookie(w, sessionCookie(r, ss.id, int(SessionTTL.Seconds())))
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request, ss *session) error {
	d.sessions.Delete(ss.id)
	http.SetCookie(w, sessionCookie(r, "", -1))
	http.Redirect(w, r, "/ui/login", http.StatusSeeOther)
	return nil
}

func (d *Dashboard) renderLogin(w http.ResponseWriter, r *http.Request, status int, lv loginView) {
	if err := d.render(w, r, nil, status, "login.html", view{Title: "Log in", Data: lv}); err != nil {
		d.log.Error("render login page", "err", err)
		http.Error(w, "cannot render the login page", http.StatusInternalServerError)
	}
}

// safeNext keeps a post-login destination only when it is a dashboard
// path on this server (never another host: no open redirect).
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/ui/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/ui/"
	}
	return next
}
