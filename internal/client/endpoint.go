package client

import (
	"bytes"
	"context"
	"encoding/json"
	"net/url"

	"github.com/slipwayhq/slipway/internal/core"
)

// The endpoint types the CLI shows.
type (
	APIKey = core.APIKey
	Domain = core.Domain
)

// CreateAPIKey makes a key for a gateway stage; the key is returned
// this once.
func (c *Client) CreateAPIKey(ctx context.Context, stack, stage, name, plan string) (APIKey, string, error) {
	body, _ := json.Marshal(map[string]string{"name": name, "plan": plan})
	var out struct {
		Key   APIKey `json:"key"`
		Value string `json:"value"`
	}
	err := c.do(ctx, "POST", stagePath(stack, stage)+"/keys", bytes.NewReader(body), "application/json", &out)
	return out.Key, out.Value, err
}

// APIKeys lists a stack's keys (one stage's if stage is set).
func (c *Client) APIKeys(ctx context.Context, stack, stage string) ([]APIKey, error) {
	var out []APIKey
	path := "/v1/stacks/" + url.PathEscape(stack) + "/keys"
	if stage != "" {
		path += "?stage=" + url.QueryEscape(stage)
	}
	return out, c.do(ctx, "GET", path, nil, "", &out)
}

// DeleteAPIKey revokes a key.
func (c *Client) DeleteAPIKey(ctx context.Context, stack, id string) error {
	return c.do(ctx, "DELETE", "/v1/stacks/"+url.PathEscape(stack)+"/keys/"+url.PathEscape(id), nil, "", nil)
}

// AddDomain routes a custom domain to a stage.
func (c *Client) AddDomain(ctx context.Context, stack, stage, name string) (Domain, error) {
	body, _ := json.Marshal(map[string]string{"name": name})
	var out Domain
	return out, c.do(ctx, "POST", stagePath(stack, stage)+"/domains", bytes.NewReader(body), "application/json", &out)
}

// Domains lists custom domains (one stack's if stack is set).
func (c *Client) Domains(ctx context.Context, stack string) ([]Domain, error) {
	var out []Domain
	path := "/v1/domains"
	if stack != "" {
		path += "?stack=" + url.QueryEscape(stack)
	}
	return out, c.do(ctx, "GET", path, nil, "", &out)
}

// RemoveDomain stops routing a custom domain.
func (c *Client) RemoveDomain(ctx context.Context, name string) error {
	return c.do(ctx, "DELETE", "/v1/domains/"+url.PathEscape(name), nil, "", nil)
}

// SetEndpointKind switches a stage between gateway and balancer.
func (c *Client) SetEndpointKind(ctx context.Context, stack, stage, kind string) error {
	body, _ := json.Marshal(map[string]string{"kind": kind})
	return c.do(ctx, "PUT", stagePath(stack, stage)+"/endpoint", bytes.NewReader(body), "application/json", nil)
}
