package client

import (
	"context"
	"net/url"
)

// ExportOptions choose what `slipway export` writes.
type ExportOptions struct {
	Format         string // cloudformation or kubernetes
	Stage          string // "" for every stage
	IncludeSecrets bool
}

// ExportFile is one exported file: its path relative to the output
// directory, its text, and what it could not carry over.
type ExportFile struct {
	Name     string   `json:"name"`
	Data     string   `json:"data"`
	Warnings []string `json:"warnings,omitempty"`
}

// ExportResult is a stack exported in one format.
type ExportResult struct {
	Stack  string       `json:"stack"`
	Format string       `json:"format"`
	Files  []ExportFile `json:"files"`
}

// Export returns a stack as another platform's files.
func (c *Client) Export(ctx context.Context, stack string, opts ExportOptions) (ExportResult, error) {
	q := url.Values{"format": {opts.Format}}
	if opts.Stage != "" {
		q.Set("stage", opts.Stage)
	}
	if opts.IncludeSecrets {
		q.Set("include_secrets", "true")
	}
	var out ExportResult
	return out, c.do(ctx, "GET", "/v1/stacks/"+url.PathEscape(stack)+"/export?"+q.Encode(), nil, "", &out)
}
