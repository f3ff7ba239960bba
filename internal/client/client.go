package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"syscall"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/credentials"
)

// Config says where the server is and how to authenticate.
type Config struct {
	Server  string // base URL, e.g. http://127.0.0.1:7070
	Token   string
	Source  string // where the settings came from, for error messages
	DataDir string
}

// Discover resolves the server and token: explicit values first, then
// SLIPWAY_SERVER/SLIPWAY_TOKEN, then the credentials file of dataDir (the
// default data dir if ""). Values found in different places combine.
func Discover(server, token, dataDir string) (Config, error) {
	if dataDir == "" {
		dataDir = os.Getenv("SLIPWAY_DATA_DIR")
	}
	if dataDir == "" {
		dataDir = credentials.DefaultDataDir()
	}
	cfg := Config{Server: server, Token: token, DataDir: dataDir, Source: "flags"}
	if cfg.Server == "" {
		cfg.Server, cfg.Source = os.Getenv(credentials.Server), "SLIPWAY_SERVER"
	}
	if cfg.Token == "" {
		cfg.Token = os.Getenv(credentials.Token)
	}
	if cfg.Server == "" || cfg.Token == "" {
		path := credentials.Path(dataDir)
		vals, err := credentials.Read(path)
		if err != nil && cfg.Token == "" {
			return cfg, fmt.Errorf("no Slipway server credentials: %s is missing (is `slipway server` running with --data-dir %s?); start it with `make run` or `slipway server`, or pass --server and --token", path, dataDir)
		}
		if cfg.Server == "" {
			cfg.Server, cfg.Source = vals[credentials.Server], path
		}
		if cfg.Token == "" {
			cfg.Token = vals[credentials.Token]
		}
	}
	if cfg.Server == "" {
		cfg.Server, cfg.Source = "http://127.0.0.1:7070", "the default"
	}
	cfg.Server = strings.TrimRight(cfg.Server, "/")
	return cfg, nil
}

// Client calls the API.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a client for cfg.
func New(cfg Config) *Client {
	return &Client{cfg: cfg, http: &http.Client{Transport: &http.Transport{Proxy: nil, DisableCompression: true}}}
}

// Error is an API error.
type Error struct {
	Status  int
	Code    core.Code
	Message string
	Details []string
}

func (e *Error) Error() string { return e.Message }

// do sends a request and decodes a JSON answer into out (if not nil).
func (c *Client) do(ctx context.Context, method, path string, body io.Reader, contentType string, out any) error {
	resp, err := c.send(ctx, method, path, body, contentType, "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if out == nil {
		io.Copy(io.Discard, resp.Body)
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// send sends a request and turns non-2xx answers into *Error.
func (c *Client) send(ctx context.Context, method, path string, body io.Reader, contentType, accept string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, c.cfg.Server+path, body)
	if err != nil {
		return nil, fmt.Errorf("bad server URL %q (from %s): %w", c.cfg.Server, c.cfg.Source, err)
	}
	req.Header.Set("Authorization", "Bearer "+c.cfg.Token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if isUnreachable(err) {
			return nil, fmt.Errorf("cannot reach the Slipway server at %s (from %s): is it running? start it with `slipway server` (or `make run`), or point --server/SLIPWAY_SERVER at it", c.cfg.Server, c.cfg.Source)
		}
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb struct {
		Error struct {
			Code    core.Code `json:"code"`
			Message string    `json:"message"`
			Details []string  `json:"details"`
		} `json:"error"`
	}
	if json.Unmarshal(data, &eb) != nil || eb.Error.Message == "" {
		return nil, &Error{Status: resp.StatusCode, Code: core.CodeInternal, Message: fmt.Sprintf("%s %s: server answered %s: %s", method, path, resp.Status, strings.TrimSpace(string(data)))}
	}
	e := &Error{Status: resp.StatusCode, Code: eb.Error.Code, Message: eb.Error.Message, Details: eb.Error.Details}
	if resp.StatusCode == http.StatusUnauthorized {
		e.Message = "the server at " + c.cfg.Server + " rejected the token: check --token, SLIPWAY_TOKEN or " + credentials.Path(c.cfg.DataDir)
	}
	return nil, e
}

func isUnreachable(err error) bool {
	var op *net.OpError
	return errors.Is(err, syscall.ECONNREFUSED) || errors.As(err, &op) && op.Op == "dial"
}

// Info describes the server.
type Info struct {
	Version      string `json:"version"`
	Domain       string `json:"domain"`
	GatewayAddr  string `json:"gateway_addr"`
	RegistryAddr string `json:"registry_addr"`
	Docker       string `json:"docker"`
	DockerAPI    string `json:"docker_api"`
}

func (c *Client) Info(ctx context.Context) (Info, error) {
	var out Info
	return out, c.do(ctx, "GET", "/v1/info", nil, "", &out)
}

func (c *Client) ListStacks(ctx context.Context) ([]core.StackStatus, error) {
	var out []core.StackStatus
	return out, c.do(ctx, "GET", "/v1/stacks", nil, "", &out)
}

func (c *Client) Stack(ctx context.Context, name string) (core.StackStatus, error) {
	var out core.StackStatus
	return out, c.do(ctx, "GET", "/v1/stacks/"+url.PathEscape(name), nil, "", &out)
}

// CreatedStack is what creating a stack returns; the webhook secret of
// an external repository is shown only here.
type CreatedStack struct {
	Name          string `json:"name"`
	RepoURL       string `json:"repo_url,omitempty"`
	Branch        string `json:"branch,omitempty"`
	WebhookPath   string `json:"webhook_path,omitempty"`
	WebhookSecret string `json:"webhook_secret,omitempty"`
}

// RepoOptions make a stack build from an external repository.
type RepoOptions struct {
	URL    string `json:"repo_url,omitempty"`
	Branch string `json:"branch,omitempty"`
	Poll   string `json:"poll,omitempty"` // a duration like "1m"; "" for webhooks only
}

func (c *Client) CreateStack(ctx context.Context, name string) (CreatedStack, error) {
	return c.CreateStackFromRepo(ctx, name, RepoOptions{})
}

// CreateStackFromRepo creates a stack that builds from a repository.
func (c *Client) CreateStackFromRepo(ctx context.Context, name string, repo RepoOptions) (CreatedStack, error) {
	var out CreatedStack
	body, _ := json.Marshal(struct {
		Name string `json:"name"`
		RepoOptions
	}{name, repo})
	return out, c.do(ctx, "POST", "/v1/stacks", bytes.NewReader(body), "application/json", &out)
}

// URL is the server's base URL.
func (c *Client) URL() string { return c.cfg.Server }

func (c *Client) DeleteStack(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/v1/stacks/"+url.PathEscape(name), nil, "", nil)
}

func (c *Client) Builds(ctx context.Context, stack string) ([]core.Build, error) {
	var out []core.Build
	return out, c.do(ctx, "GET", "/v1/stacks/"+url.PathEscape(stack)+"/builds", nil, "", &out)
}

func (c *Client) Releases(ctx context.Context, stack, stage string) ([]core.Release, error) {
	var out []core.Release
	return out, c.do(ctx, "GET", "/v1/stacks/"+url.PathEscape(stack)+"/releases?stage="+url.QueryEscape(stage), nil, "", &out)
}

// LogOptions for Logs.
type LogOptions struct {
	Stage      string
	Kind       string // runtime (default), build, release or access
	Follow     bool
	Tail       int    // 0 for all
	Since      string // a duration back from now (10m, 3d) or an RFC 3339 time
	Until      string // the same
	Grep       string
	Timestamps bool
	JSON       bool // the stored entries as JSON lines, not text
}

// Logs copies a stack's stored logs to w until they end (or ctx ends
// when following).
func (c *Client) Logs(ctx context.Context, stack string, opts LogOptions, w io.Writer) error {
	q := url.Values{}
	if opts.Stage != "" {
		q.Set("stage", opts.Stage)
	}
	if opts.Follow {
		q.Set("follow", "true")
	}
	if opts.Tail > 0 {
		q.Set("tail", fmt.Sprint(opts.Tail))
	}
	if opts.Since != "" {
		q.Set("since", opts.Since)
	}
	if opts.Timestamps {
		q.Set("timestamps", "true")
	}
	if opts.Kind != "" {
		q.Set("kind", opts.Kind)
	}
	if opts.Grep != "" {
		q.Set("grep", opts.Grep)
	}
	if opts.Until != "" {
		q.Set("until", opts.Until)
	}
	if opts.JSON {
		q.Set("format", "json")
	}
	resp, err := c.send(ctx, "GET", "/v1/stacks/"+url.PathEscape(stack)+"/logs?"+q.Encode(), nil, "", "")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// BuildEvents streams a build's events to fn until it finishes.
func (c *Client) BuildEvents(ctx context.Context, stack, build string, fn func(core.Event)) (core.Event, error) {
	resp, err := c.send(ctx, "GET", "/v1/stacks/"+url.PathEscape(stack)+"/builds/"+url.PathEscape(build)+"/events", nil, "", "application/x-ndjson")
	if err != nil {
		return core.Event{}, err
	}
	defer resp.Body.Close()
	return readEvents(resp.Body, fn)
}

// readEvents decodes NDJSON events until a done or error event.
func readEvents(r io.Reader, fn func(core.Event)) (core.Event, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var ev core.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return ev, fmt.Errorf("bad event from server: %w", err)
		}
		if fn != nil {
			fn(ev)
		}
		switch ev.Type {
		case core.EventDone:
			return ev, nil
		case core.EventError:
			return ev, &Error{Status: 0, Code: ev.Code, Message: ev.Message, Details: ev.Details}
		}
	}
	if err := sc.Err(); err != nil {
		return core.Event{}, fmt.Errorf("progress stream broke: %w", err)
	}
	return core.Event{}, errors.New("progress stream ended before the deploy finished; see `slipway status`")
}

// GitRemote is the URL of a stack's git remote (the token is the
// password; any user name works).
func (c *Client) GitRemote(stack string) string {
	return c.cfg.Server + "/git/" + url.PathEscape(stack) + ".git"
}
