package registry

import (
	"crypto/subtle"
	"net/http"

	"github.com/distribution/distribution/v3/registry/api/errcode"
)

// realm names the protection space in the Basic challenge (RFC 7617).
const realm = "slipway"

// authenticate gates next behind HTTP basic auth: the user must be
// username and the password a token the caller accepts. It replaces
// distribution's htpasswd controller so no credential file exists and
// token rotation is the caller's business. Every route needs it, /v2/
// included, because docker's ping of /v2/ is how it learns to send
// credentials at all.
func authenticate(username string, token func(string) bool, next http.Handler) http.Handler {
	want := []byte(username)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, pass, ok := r.BasicAuth()
		if ok {
			// Check the token even when the user is wrong so the time
			// taken says nothing about which half failed.
			userOK := subtle.ConstantTimeCompare([]byte(user), want) == 1
			tokenOK := token(pass)
			if userOK && tokenOK {
				next.ServeHTTP(w, r)
				return
			}
		}
		challenge(w)
	})
}

// challenge writes a 401 in distribution's own shape, so clients that parse
// registry errors (docker, containerd, crane) report it properly.
func challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="`+realm+`"`)
	w.Header().Set("Docker-Distribution-API-Version", "registry/2.0")
	_ = errcode.ServeJSON(w, errcode.ErrorCodeUnauthorized.WithMessage("authentication required: log in with the registry user and a valid token"))
}
