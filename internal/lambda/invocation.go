package lambda

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// MaxPayloadSize is Lambda's limit on a synchronous invocation's event and
// response: 6 MB.
const MaxPayloadSize = 6 * 1024 * 1024

// Region and AccountID stand in for the AWS region and account in ARNs and
// events: a local stack has neither.
const (
	Region    = "us-east-1"
	AccountID = "000000000000"
)

// MaxTimeout is Lambda's longest function timeout, used when neither the
// invocation, its context nor the function sets a deadline.
const MaxTimeout = 15 * time.Minute

// Errors of Instance.Invoke. A function's own failure is not among them: it
// comes back in Result.Error.
var (
	// ErrBusy: the instance is already handling an event (Lambda runs one
	// event per instance at a time; the caller must pick another instance).
	ErrBusy = errors.New("instance is busy with another invocation")
	// ErrUnregistered: the instance was unregistered before it answered.
	ErrUnregistered = errors.New("instance unregistered")
	// ErrInitFailed: the instance reported an init error (see InitError).
	ErrInitFailed = errors.New("instance init failed")
	// ErrResponseTooLarge: the function answered with more than
	// MaxPayloadSize bytes; the runtime was told 413.
	ErrResponseTooLarge = errors.New("function response exceeds the 6 MB payload limit")
	// ErrNoResponse: the runtime asked for its next event without answering
	// the one it had.
	ErrNoResponse = errors.New("runtime asked for the next event without answering")
)

// FunctionInfo describes the function an instance runs: what the Runtime API
// tells it in headers and what its environment says (see Env).
type FunctionInfo struct {
	Name     string        // AWS_LAMBDA_FUNCTION_NAME
	ARN      string        // Lambda-Runtime-Invoked-Function-Arn; derived from Name when empty
	Version  string        // AWS_LAMBDA_FUNCTION_VERSION; "$LATEST" when empty
	MemoryMB int           // AWS_LAMBDA_FUNCTION_MEMORY_SIZE
	Handler  string        // _HANDLER, when the image's runtime needs it
	Timeout  time.Duration // default deadline of an invocation; MaxTimeout when zero
}

// InvokedARN is the ARN sent with every event.
func (f FunctionInfo) InvokedARN() string {
	if f.ARN != "" {
		return f.ARN
	}
	return "arn:aws:lambda:" + Region + ":" + AccountID + ":function:" + f.Name
}

// Env is the environment Lambda gives a function, for the activator to pass
// to the instance's container. runtimeAPI is the host:port at which the
// instance reaches the Server (AWS_LAMBDA_RUNTIME_API has no scheme).
func (f FunctionInfo) Env(runtimeAPI string) []string {
	version := f.Version
	if version == "" {
		version = "$LATEST"
	}
	env := []string{
		"AWS_LAMBDA_RUNTIME_API=" + runtimeAPI,
		"AWS_LAMBDA_FUNCTION_NAME=" + f.Name,
		"AWS_LAMBDA_FUNCTION_VERSION=" + version,
		"AWS_LAMBDA_LOG_GROUP_NAME=/aws/lambda/" + f.Name,
		"AWS_LAMBDA_INITIALIZATION_TYPE=on-demand",
		"AWS_REGION=" + Region,
		"AWS_DEFAULT_REGION=" + Region,
	}
	if f.MemoryMB > 0 {
		env = append(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE="+strconv.Itoa(f.MemoryMB))
	}
	if f.Handler != "" {
		env = append(env, "_HANDLER="+f.Handler)
	}
	return env
}

// Invocation is one event for an instance.
type Invocation struct {
	// RequestID is the Lambda request id; a UUID is made up when empty.
	RequestID string
	// Payload is the event, usually JSON (see HTTPEventV2).
	Payload []byte
	// Deadline is when the function must have answered. When zero, the
	// context's deadline is used, else now plus FunctionInfo.Timeout.
	Deadline time.Time
	// TraceID is the X-Ray trace header; one is made up when empty.
	TraceID string
}

// Result is an instance's answer to one event: the response payload, or the
// error the function reported.
type Result struct {
	Payload     []byte
	ContentType string         // as the runtime posted it
	Error       *FunctionError // non-nil when the runtime posted /error
	// Duration runs from handing the event to the runtime to its answer:
	// what Lambda bills, without any wait for the instance's init.
	Duration time.Duration
}

// FunctionError is an error a runtime reports, in the body Lambda defines
// for /invocation/{id}/error and /init/error.
type FunctionError struct {
	Type    string `json:"errorType"`
	Message string `json:"errorMessage"`
	// StackTrace is kept as sent: runtimes disagree on its shape (strings
	// in Node.js and Python, objects in aws-lambda-go).
	StackTrace json.RawMessage `json:"stackTrace,omitempty"`
}

func (e *FunctionError) Error() string {
	return fmt.Sprintf("%s: %s", e.Type, e.Message)
}

// parseFunctionError reads a runtime's error body. A body that is not the
// documented JSON still counts: it becomes the message. headerType is the
// Lambda-Runtime-Function-Error-Type header, used when the body has no type.
func parseFunctionError(body []byte, headerType string) FunctionError {
	var fe FunctionError
	if err := json.Unmarshal(body, &fe); err != nil {
		fe = FunctionError{Message: string(body)}
	}
	if fe.Type == "" {
		fe.Type = headerType
	}
	if fe.Type == "" {
		fe.Type = "Runtime.Unknown"
	}
	return fe
}

// newUUID returns a random (version 4) UUID, the shape of Lambda request ids.
func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// newTraceID returns an X-Ray trace header for an unsampled trace.
func newTraceID(now time.Time) string {
	var b [20]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("Root=1-%08x-%s;Parent=%s;Sampled=0",
		now.Unix(), hex.EncodeToString(b[:12]), hex.EncodeToString(b[12:]))
}
