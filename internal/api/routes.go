package api

import "net/http"

// route is one API operation. The table below is the only list of
// routes: the mux and the OpenAPI document are both built from it.
type route struct {
	method, pattern string
	summary         string
	public          bool   // no token needed
	request         string // request body media type, "" for none
	response        string // success response media type
	status          int    // success status
	params          []param
	handle          func(http.ResponseWriter, *http.Request) error
}

type param struct{ name, in, desc string }

var (
	pStack  = param{"stack", "path", "stack name"}
	pBuild  = param{"build", "path", "build ID, e.g. b3"}
	pStage  = param{"stage", "query", "stage name (all stages if omitted)"}
	pFollow = param{"follow", "query", "true to keep streaming new lines"}
	pTail   = param{"tail", "query", "number of last lines per instance"}
	pSince  = param{"since", "query", "only lines newer than this duration, e.g. 10m"}
	pWindow = param{"since", "query", "the window, back from now, e.g. 24h (default)"}
	pKey    = param{"key", "path", "API key ID, e.g. k3"}
	pKind   = param{"kind", "query", "runtime (instance output, default), build (the stack's; no stage), release, or access (needs stage)"}
	pGrep   = param{"grep", "query", "only entries whose text contains this (plain substring)"}
	// Logs read from the log store.
	pLogTail  = param{"tail", "query", "only the last N entries"}
	pLogSince = param{"since", "query", "only entries from then on: a duration back from now (10m, 2h, 3d) or an RFC 3339 time"}
	pUntil    = param{"until", "query", "only entries before then: a duration back from now or an RFC 3339 time"}
	pFormat   = param{"format", "query", "text (default) or json (the stored entries, one per line)"}
	pDomain   = param{"domain", "path", "custom domain, e.g. api.example.com"}
	pStackQ   = param{"stack", "query", "only this stack's"}
	pDetach   = param{"detach", "query", "true to return the build at once instead of streaming"}
	pTimes    = param{"timestamps", "query", "true to prefix lines with timestamps"}
	pStageP   = param{"stage", "path", "stage name"}
	pLimit    = param{"limit", "query", "at most this many (default 100)"}
	pExpect   = param{"build", "query", "the build the approver expects to be waiting; refused if another is"}
)

const (
	jsonType   = "application/json"
	streamType = "application/x-ndjson"
)

func (a *API) table() []route {
	return []route{
		{method: "GET", pattern: "/v1/openapi.json", summary: "This document", public: true, response: jsonType, status: 200, handle: a.openAPI},
		{method: "POST", pattern: "/v1/hooks/{stack}", summary: "GitHub or GitLab push webhook for a stack that builds from an external repository (signed, no token)", public: true, request: jsonType, response: jsonType, status: 202, params: []param{pStack}, handle: a.webhook},
		{method: "GET", pattern: "/v1/info", summary: "Server version, domain, gateway and registry addresses, Docker version", response: jsonType, status: 200, handle: a.getInfo},
		{method: "GET", pattern: "/v1/stacks", summary: "List stacks with their status", response: jsonType, status: 200, handle: a.listStacks},
		{method: "POST", pattern: "/v1/stacks", summary: "Create an empty stack (deploying creates it too)", request: jsonType, response: jsonType, status: 201, handle: a.createStack},
		{method: "GET", pattern: "/v1/stacks/{stack}", summary: "A stack's status: stages, releases, instances, URLs", response: jsonType, status: 200, params: []param{pStack}, handle: a.getStack},
		{method: "DELETE", pattern: "/v1/stacks/{stack}", summary: "Delete a stack, its instances, network, images and history", status: 204, params: []param{pStack}, handle: a.deleteStack},
		{method: "POST", pattern: "/v1/stacks/{stack}/builds", summary: "Upload a build context (tar.gz) to build and release to the first stage; streams progress (NDJSON, or SSE with Accept: text/event-stream)", request: "application/gzip", response: streamType, status: 202, params: []param{pStack, pDetach}, handle: a.createBuild},
		{method: "GET", pattern: "/v1/stacks/{stack}/builds", summary: "List a stack's builds, newest first", response: jsonType, status: 200, params: []param{pStack}, handle: a.listBuilds},
		{method: "GET", pattern: "/v1/stacks/{stack}/builds/{build}", summary: "One build", response: jsonType, status: 200, params: []param{pStack, pBuild}, handle: a.getBuild},
		{method: "GET", pattern: "/v1/stacks/{stack}/builds/{build}/events", summary: "A build's progress events: live while it runs, replayed after", response: streamType, status: 200, params: []param{pStack, pBuild}, handle: a.buildEvents},
		{method: "POST", pattern: "/v1/stacks/{stack}/builds/{build}/retry", summary: "Run a pushed build's commit again as a new build; streams progress (NDJSON)", response: streamType, status: 202, params: []param{pStack, pBuild}, handle: a.retryBuild},
		{method: "GET", pattern: "/v1/stacks/{stack}/releases", summary: "A stack's releases, newest first", response: jsonType, status: 200, params: []param{pStack, pStage}, handle: a.listReleases},
		{method: "PUT", pattern: "/v1/stacks/{stack}/stages/{stage}/scale", summary: "Change a stage's min, max or cpu_target without a build", request: jsonType, response: jsonType, status: 200, params: []param{pStack, pStageP}, handle: a.scale},
		{method: "GET", pattern: "/v1/stacks/{stack}/stages/{stage}/events", summary: "A stage's events (scaling decisions with their inputs, rollouts, crashes), newest first", response: jsonType, status: 200, params: []param{pStack, pStageP, pLimit}, handle: a.events},
		{method: "POST", pattern: "/v1/stacks/{stack}/stages/{stage}/abort", summary: "Stop a rollout in progress; the previous release keeps serving", response: jsonType, status: 200, params: []param{pStack, pStageP}, handle: a.abort},
		{method: "POST", pattern: "/v1/stacks/{stack}/stages/{stage}/exec", summary: "Run a command in an instance; streams output frames then the exit code (NDJSON)", request: jsonType, response: streamType, status: 200, params: []param{pStack, pStageP}, handle: a.exec},
		{method: "POST", pattern: "/v1/stacks/{stack}/stages/{stage}/rollback", summary: "Roll a stage back to an earlier release's image and config, without a build; streams progress (NDJSON)", request: jsonType, response: streamType, status: 200, params: []param{pStack, pStageP}, handle: a.rollback},
		{method: "POST", pattern: "/v1/stacks/{stack}/stages/{stage}/approve", summary: "Release the build awaiting approval at a stage, then promote it on; streams progress (NDJSON)", response: streamType, status: 200, params: []param{pStack, pStageP, pExpect}, handle: a.approve},
		{method: "GET", pattern: "/v1/stacks/{stack}/stages/{stage}/usage", summary: "A serverless stage's metered usage: requests, billed ms, GB-seconds, cold starts, throttles, p50/p99 duration", response: jsonType, status: 200, params: []param{pStack, pStageP, pWindow}, handle: a.usage},
		{method: "POST", pattern: "/v1/stacks/{stack}/stages/{stage}/invoke", summary: "Invoke a lambda stage directly with a raw event (the body); answers the function's response payload", request: jsonType, response: jsonType, status: 200, params: []param{pStack, pStageP}, handle: a.invoke},
		{method: "PUT", pattern: "/v1/stacks/{stack}/stages/{stage}/endpoint", summary: "Switch a stage between the gateway and the balancer at once, without a build or restart", request: jsonType, response: jsonType, status: 200, params: []param{pStack, pStageP}, handle: a.setEndpoint},
		{method: "POST", pattern: "/v1/stacks/{stack}/stages/{stage}/keys", summary: "Create an API key for a gateway stage (optionally under a usage plan); the key is in this answer only", request: jsonType, response: jsonType, status: 201, params: []param{pStack, pStageP}, handle: a.createKey},
		{method: "GET", pattern: "/v1/stacks/{stack}/keys", summary: "A stack's API keys (names, plans, prefixes; never the keys)", response: jsonType, status: 200, params: []param{pStack, pStage}, handle: a.listKeys},
		{method: "DELETE", pattern: "/v1/stacks/{stack}/keys/{key}", summary: "Revoke an API key", status: 204, params: []param{pStack, pKey}, handle: a.deleteKey},
		{method: "POST", pattern: "/v1/stacks/{stack}/stages/{stage}/domains", summary: "Route a custom domain to a stage; its certificate is obtained over ACME", request: jsonType, response: jsonType, status: 201, params: []param{pStack, pStageP}, handle: a.addDomain},
		{method: "GET", pattern: "/v1/domains", summary: "Custom domains, with their stages and certificate state", response: jsonType, status: 200, params: []param{pStackQ}, handle: a.listDomains},
		{method: "DELETE", pattern: "/v1/domains/{domain}", summary: "Stop routing a custom domain", status: 204, params: []param{pDomain}, handle: a.removeDomain},
		{method: "GET", pattern: "/v1/stacks/{stack}/stages/{stage}/env", summary: "A stage's variables (slipway.yml, env set, secrets masked)", response: jsonType, status: 200, params: []param{pStack, pStageP}, handle: a.getEnv},
		{method: "PUT", pattern: "/v1/stacks/{stack}/stages/{stage}/env", summary: "Set or unset a stage's variables or secrets; the serving build is released again with them; streams progress (NDJSON)", request: jsonType, response: streamType, status: 200, params: []param{pStack, pStageP}, handle: a.setEnv},
		{method: "GET", pattern: "/v1/stacks/{stack}/build-env", summary: "The stack's build variables", response: jsonType, status: 200, params: []param{pStack}, handle: a.getBuildEnv},
		{method: "PUT", pattern: "/v1/stacks/{stack}/build-env", summary: "Set or unset the stack's build variables", request: jsonType, response: jsonType, status: 200, params: []param{pStack}, handle: a.setBuildEnv},
		{method: "GET", pattern: "/v1/stacks/{stack}/logs", summary: "Stored logs: runtime (instance output, default), build, release or access; text, or JSON lines with format=json (access: always)", response: "text/plain", status: 200, params: []param{pStack, pStage, pKind, pGrep, pFollow, pLogTail, pLogSince, pUntil, pTimes, pFormat}, handle: a.logs},
	}
}
