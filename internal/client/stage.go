package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// ScaleSpec and StageEvent are the API's types.
type (
	ScaleSpec  = core.ScaleSpec
	StageEvent = core.StageEvent
)

// ScaleChange changes a stage's scale spec; nil fields stay as they are.
type ScaleChange struct {
	Min       *int `json:"min,omitempty"`
	Max       *int `json:"max,omitempty"`
	CPUTarget *int `json:"cpu_target,omitempty"`
}

func stagePath(stack, stage string) string {
	return "/v1/stacks/" + url.PathEscape(stack) + "/stages/" + url.PathEscape(stage)
}

// Scale changes a stage's min, max or CPU target without a build.
func (c *Client) Scale(ctx context.Context, stack, stage string, ch ScaleChange) (ScaleSpec, error) {
	var out ScaleSpec
	body, _ := json.Marshal(ch)
	return out, c.do(ctx, "PUT", stagePath(stack, stage)+"/scale", bytes.NewReader(body), "application/json", &out)
}

// Events lists a stage's events, newest first.
func (c *Client) Events(ctx context.Context, stack, stage string, limit int) ([]StageEvent, error) {
	var out []StageEvent
	return out, c.do(ctx, "GET", fmt.Sprintf("%s/events?limit=%d", stagePath(stack, stage), limit), nil, "", &out)
}

// Abort stops a stage's rollout and returns the aborted release.
func (c *Client) Abort(ctx context.Context, stack, stage string) (string, error) {
	var out struct {
		Aborted string `json:"aborted"`
	}
	return out.Aborted, c.do(ctx, "POST", stagePath(stack, stage)+"/abort", nil, "", &out)
}

// Exec runs cmd in an instance of a stage (instance "" picks a healthy
// one), copying its output as it comes, and returns its exit code.
func (c *Client) Exec(ctx context.Context, stack, stage, instance string, cmd []string, stdout, stderr io.Writer) (int, error) {
	body, _ := json.Marshal(map[string]any{"command": cmd, "instance": instance})
	resp, err := c.send(ctx, "POST", stagePath(stack, stage)+"/exec", bytes.NewReader(body), "application/json", "application/x-ndjson")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 8<<20)
	for sc.Scan() {
		var f struct {
			Stream   string `json:"stream"`
			Data     string `json:"data"`
			ExitCode *int   `json:"exit_code"`
			Error    string `json:"error"`
		}
		if err := json.Unmarshal(sc.Bytes(), &f); err != nil {
			return 0, fmt.Errorf("bad exec frame from server: %w", err)
		}
		switch {
		case f.Error != "":
			return 0, errors.New(f.Error)
		case f.ExitCode != nil:
			return *f.ExitCode, nil
		case f.Stream == "stderr":
			io.WriteString(stderr, f.Data)
		default:
			io.WriteString(stdout, f.Data)
		}
	}
	if err := sc.Err(); err != nil {
		return 0, fmt.Errorf("exec stream broke: %w", err)
	}
	return 0, errors.New("exec stream ended without an exit code")
}

// Rollback rolls a stage back to release to ("" for the one before the
// current), streaming progress to fn; it returns the final event.
func (c *Client) Rollback(ctx context.Context, stack, stage, to string, fn func(Event)) (Event, error) {
	body, _ := json.Marshal(map[string]string{"to": to})
	resp, err := c.send(ctx, "POST", stagePath(stack, stage)+"/rollback", bytes.NewReader(body), "application/json", "application/x-ndjson")
	if err != nil {
		return Event{}, err
	}
	defer resp.Body.Close()
	return readEvents(resp.Body, fn)
}

// Approve releases the build awaiting approval at a stage, streaming
// progress to fn; it returns the final event.
func (c *Client) Approve(ctx context.Context, stack, stage, build string, fn func(Event)) (Event, error) {
	resp, err := c.send(ctx, "POST", stagePath(stack, stage)+"/approve?build="+url.QueryEscape(build), nil, "", "application/x-ndjson")
	if err != nil {
		return Event{}, err
	}
	defer resp.Body.Close()
	return readEvents(resp.Body, fn)
}

// EnvVar is a variable as the API lists it (secrets masked).
type EnvVar struct {
	Name   string `json:"name"`
	Value  string `json:"value"`
	Source string `json:"source"`
}

// EnvChange sets and unsets variables; Secret seals what it sets.
type EnvChange struct {
	Set    map[string]string `json:"set,omitempty"`
	Unset  []string          `json:"unset,omitempty"`
	Secret bool              `json:"secret,omitempty"`
}

// Env lists a stage's variables, or the stack's build variables when
// stage is "".
func (c *Client) Env(ctx context.Context, stack, stage string) ([]EnvVar, error) {
	var out []EnvVar
	path := "/v1/stacks/" + url.PathEscape(stack) + "/build-env"
	if stage != "" {
		path = stagePath(stack, stage) + "/env"
	}
	return out, c.do(ctx, "GET", path, nil, "", &out)
}

// SetEnv changes a stage's variables; the serving build is released
// again with them, streaming progress to fn.
func (c *Client) SetEnv(ctx context.Context, stack, stage string, ch EnvChange, fn func(Event)) (Event, error) {
	body, _ := json.Marshal(ch)
	resp, err := c.send(ctx, "PUT", stagePath(stack, stage)+"/env", bytes.NewReader(body), "application/json", "application/x-ndjson")
	if err != nil {
		return Event{}, err
	}
	defer resp.Body.Close()
	return readEvents(resp.Body, fn)
}

// SetBuildEnv changes the stack's build variables.
func (c *Client) SetBuildEnv(ctx context.Context, stack string, ch EnvChange) error {
	body, _ := json.Marshal(ch)
	return c.do(ctx, "PUT", "/v1/stacks/"+url.PathEscape(stack)+"/build-env", bytes.NewReader(body), "application/json", nil)
}

// Retry runs a pushed build's commit again, streaming its progress.
func (c *Client) Retry(ctx context.Context, stack, build string, fn func(Event)) (Event, error) {
	resp, err := c.send(ctx, "POST", "/v1/stacks/"+url.PathEscape(stack)+"/builds/"+url.PathEscape(build)+"/retry", nil, "", "application/x-ndjson")
	if err != nil {
		return Event{}, err
	}
	defer resp.Body.Close()
	return readEvents(resp.Body, fn)
}

// Usage is a serverless stage's metered usage over the last since.
func (c *Client) Usage(ctx context.Context, stack, stage string, since time.Duration) (Usage, error) {
	var out Usage
	return out, c.do(ctx, "GET", stagePath(stack, stage)+"/usage?since="+url.QueryEscape(since.String()), nil, "", &out)
}

// Invoke hands a raw event to a lambda stage and returns the function's
// response payload.
func (c *Client) Invoke(ctx context.Context, stack, stage string, event []byte) ([]byte, error) {
	resp, err := c.send(ctx, "POST", stagePath(stack, stage)+"/invoke", bytes.NewReader(event), "application/json", "")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(resp.Body)
}
