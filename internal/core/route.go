package core

// Route sends the requests of a stage's host whose path starts with Path
// to another stage, of this stack or of another one.
type Route struct {
	// Path is a prefix, starting with "/".
	Path string `json:"path"`
	// Stack is "" for this stack.
	Stack string `json:"stack,omitempty"`
	Stage string `json:"stage"`
	// Strip removes Path from the request's path before it is forwarded.
	Strip bool `json:"strip,omitempty"`
}
