package gateway

import (
	"encoding/binary"
	"encoding/hex"
	"math/rand/v2"
	"net/http"
)

// maxRequestIDLen bounds a client-supplied X-Request-Id we keep.
const maxRequestIDLen = 128

// setRequestID gives x its X-Request-Id header value: the client's own id
// when it is sane, otherwise a new random one. The value is a ready-made
// header slice, shared by the outbound request and the response, and
// backed by x itself, so it costs no allocation of its own.
func (x *exchange) setRequestID(h http.Header) {
	if v := h["X-Request-Id"]; len(v) > 0 && saneRequestID(v[0]) {
		x.requestID = v[:1:1] // cap 1: an append elsewhere can never write into v
		return
	}
	x.id[0] = newRequestID()
	x.requestID = x.id[:1:1]
}

// saneRequestID reports whether id is 1–128 characters of [A-Za-z0-9._-],
// which keeps ids safe to log, to put in headers and to grep for.
func saneRequestID(id string) bool {
	if id == "" || len(id) > maxRequestIDLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

// newRequestID returns 16 random bytes in hex. Request ids are not
// secrets, so they come from math/rand/v2's global generator (ChaCha8,
// seeded from the OS per thread): no syscall, unlike crypto/rand, whose
// getrandom cost 1.5 µs per id on the reference VM.
func newRequestID() string {
	var raw [16]byte
	binary.LittleEndian.PutUint64(raw[:8], rand.Uint64())
	binary.LittleEndian.PutUint64(raw[8:], rand.Uint64())
	var out [32]byte
	hex.Encode(out[:], raw[:])
	return string(out[:])
}
