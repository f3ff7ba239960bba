package core

import (
	"errors"
	"fmt"
)

// Code classifies a domain error. The API turns each code into one HTTP
// status in a single place; nothing else in the domain mentions HTTP.
type Code string

const (
	CodeInvalid      Code = "invalid"        // bad input: manifest, name, parameter
	CodeNotFound     Code = "not_found"      // unknown stack, stage, build, release
	CodeConflict     Code = "conflict"       // name clash, concurrent change
	CodeUnauthorized Code = "unauthorized"   // missing or wrong token
	CodeUnavailable  Code = "unavailable"    // a dependency (Docker, registry) is down
	CodeBuildFailed  Code = "build_failed"   // the user's build or buildspec failed
	CodeTimedOut     Code = "timed_out"      // a build ran past its timeout and was killed
	CodeThrottled    Code = "throttled"      // a serverless stage is at max_instances with its queue full
	CodeFunction     Code = "function_error" // a serverless function failed, timed out or ran out of memory
	CodeDeployFailed Code = "deploy_failed"  // the new release never became healthy
	CodeInternal     Code = "internal"       // a bug or an unexpected failure
)

// Error is a domain error with a code and a one-line, user-facing message.
type Error struct {
	Code    Code
	Message string
	// Details are extra lines for a human (a failed build's last log
	// lines, say); Message stays one line without them.
	Details []string
	Err     error // optional cause, not shown to API clients
}

func (e *Error) Error() string {
	if e.Err != nil && e.Message == "" {
		return e.Err.Error()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Errorf builds a domain error with a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Wrap attaches a code and message to a cause.
func Wrap(code Code, err error, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Err: err}
}

// WithDetails returns e with details attached.
func (e *Error) WithDetails(lines []string) *Error {
	e.Details = lines
	return e
}

// CodeOf returns the code of the first domain error in err's chain, or
// CodeInternal if there is none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// IsNotFound reports whether err carries CodeNotFound.
func IsNotFound(err error) bool { return err != nil && CodeOf(err) == CodeNotFound }
