package jwtauth

import "errors"

// The two classes of refusal. Every error Authorize returns matches
// exactly one of them with errors.Is: ErrUnauthorized (API Gateway's
// 401) or ErrForbidden (403).
var (
	ErrUnauthorized = errors.New("unauthorized")
	ErrForbidden    = errors.New("forbidden")
)

// Reasons for a refusal; each matches its class with errors.Is, so a
// caller may map by class and log by reason.
var (
	ErrMissingToken      error = &refusal{"missing bearer token", ErrUnauthorized}
	ErrInvalidToken      error = &refusal{"invalid token", ErrUnauthorized}
	ErrUnknownKey        error = &refusal{"unknown signing key", ErrUnauthorized}
	ErrBadSignature      error = &refusal{"bad signature", ErrUnauthorized}
	ErrWrongIssuer       error = &refusal{"wrong issuer", ErrUnauthorized}
	ErrWrongAudience     error = &refusal{"wrong audience", ErrUnauthorized}
	ErrExpired           error = &refusal{"token expired", ErrUnauthorized}
	ErrNotYetValid       error = &refusal{"token not yet valid", ErrUnauthorized}
	ErrInsufficientScope error = &refusal{"insufficient scope", ErrForbidden}
)

// refusal is a reason that also answers to its class.
type refusal struct {
	msg   string
	class error
}

func (r *refusal) Error() string { return r.msg }

func (r *refusal) Is(target error) bool { return target == r.class }
