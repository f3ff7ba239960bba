package core

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Endpoint kinds: a stage's front door.
const (
	// EndpointGateway is API-Gateway-like: API keys, usage plans, JWT,
	// CORS, throttling, payload and time limits.
	EndpointGateway = "gateway"
	// EndpointBalancer is ALB-like: least outstanding requests, retries,
	// sticky sessions, WebSockets, and nothing else on the request path.
	EndpointBalancer = "balancer"
)

// EndpointSpec is a stage's front door. Only the block of its Kind
// applies.
type EndpointSpec struct {
	Kind     string       `json:"kind"` // gateway (default) or balancer
	Gateway  GatewaySpec  `json:"gateway"`
	Balancer BalancerSpec `json:"balancer"`
}

// GatewaySpec configures the gateway endpoint, as API Gateway's stage
// settings do.
type GatewaySpec struct {
	// APIKeys: "required" makes every request carry a valid x-api-key
	// header; "" (or "optional") lets requests without one through,
	// under the stage throttle only.
	APIKeys string `json:"api_keys,omitempty"`
	// UsagePlans by name; a key is created for one of them.
	UsagePlans map[string]UsagePlan `json:"usage_plans,omitempty"`
	JWT        *JWTSpec             `json:"jwt,omitempty"`
	CORS       *CORSSpec            `json:"cors,omitempty"`
	// Throttle is the stage's token bucket (default 10,000 req/s, burst
	// 5,000: API Gateway's account default).
	Throttle Throttle `json:"throttle"`
	// Timeout is the integration timeout (default and most 30 s).
	Timeout Duration `json:"timeout"`
	// MaxBody is the request payload limit in bytes (10 MB).
	MaxBody int64 `json:"max_body"`
}

// UsagePlan limits what one API key may send: a token bucket and a
// quota per period.
type UsagePlan struct {
	Throttle Throttle `json:"throttle"`
	Quota    *Quota   `json:"quota,omitempty"`
}

// Throttle is a token bucket: Rate requests per second, Burst at once.
type Throttle struct {
	Rate  float64 `json:"rate"`
	Burst int     `json:"burst"`
}

// Quota caps requests per calendar period (UTC), as API Gateway's do.
type Quota struct {
	Limit  int64  `json:"limit"`
	Period string `json:"period"` // day, week or month
}

// Quota periods.
const (
	QuotaDay   = "day"
	QuotaWeek  = "week"
	QuotaMonth = "month"
)

// JWTSpec is a JWT authorizer, as API Gateway HTTP APIs have.
type JWTSpec struct {
	Issuer    string   `json:"issuer"`
	Audiences []string `json:"audiences"`
	JWKSURL   string   `json:"jwks_url"`
	// Scopes required per route path prefix ("/admin": ["admin"]); the
	// longest matching prefix applies.
	Scopes map[string][]string `json:"scopes,omitempty"`
}

// CORSSpec is a CORS configuration, with API Gateway's keys.
type CORSSpec struct {
	AllowOrigins     []string `json:"allow_origins"`
	AllowMethods     []string `json:"allow_methods,omitempty"`
	AllowHeaders     []string `json:"allow_headers,omitempty"`
	ExposeHeaders    []string `json:"expose_headers,omitempty"`
	MaxAge           Duration `json:"max_age,omitempty"`
	AllowCredentials bool     `json:"allow_credentials,omitempty"`
}

// BalancerSpec configures the balancer endpoint, as an ALB target group.
type BalancerSpec struct {
	// Algorithm: least_outstanding (default) or round_robin.
	Algorithm string `json:"algorithm"`
	// Sticky, when positive, pins a client to an instance with a cookie
	// for this long.
	Sticky Duration `json:"sticky,omitempty"`
	// IdleTimeout closes a client's HTTP/1.1 connection that has idled
	// this long after a request to the stage (default 60 s).
	IdleTimeout Duration `json:"idle_timeout"`
}

// Balancer algorithms.
const (
	LeastOutstanding = "least_outstanding"
	RoundRobinAlgo   = "round_robin"
)

// Endpoint defaults and limits (API Gateway's and the ALB's).
const (
	DefaultStageRate      = 10000
	DefaultStageBurst     = 5000
	DefaultGatewayTimeout = 30 * time.Second
	MaxGatewayTimeout     = 30 * time.Second
	DefaultMaxBody        = 10 << 20
	DefaultIdleTimeout    = 60 * time.Second
)

// DefaultEndpoint is a stage's endpoint when slipway.yml sets none.
func DefaultEndpoint() EndpointSpec {
	return EndpointSpec{
		Kind: EndpointGateway,
		Gateway: GatewaySpec{
			Throttle: Throttle{Rate: DefaultStageRate, Burst: DefaultStageBurst},
			Timeout:  Duration(DefaultGatewayTimeout), MaxBody: DefaultMaxBody,
		},
		Balancer: BalancerSpec{Algorithm: LeastOutstanding, IdleTimeout: Duration(DefaultIdleTimeout)},
	}
}

// APIKey is a gateway stage's API key. The key itself is shown once, at
// creation; only its SHA-256 is kept.
type APIKey struct {
	ID        string    `json:"id"` // "k<seq>"
	Stack     string    `json:"stack"`
	Stage     string    `json:"stage"`
	Name      string    `json:"name"`
	Plan      string    `json:"plan,omitempty"` // a usage plan of the stage
	Hash      string    `json:"-"`              // hex SHA-256 of the key
	Prefix    string    `json:"prefix"`         // the key's first characters, to tell keys apart
	CreatedAt time.Time `json:"created_at"`
}

// Domain is a custom domain routed to a stage, served over HTTPS once
// its certificate is issued.
type Domain struct {
	Name      string    `json:"name"` // lower case, e.g. api.example.com
	Stack     string    `json:"stack"`
	Stage     string    `json:"stage"`
	CreatedAt time.Time `json:"created_at"`
}

// EffectiveEndpoint is the stage's endpoint, or the default when
// slipway.yml sets none.
func (st StageSpec) EffectiveEndpoint() EndpointSpec {
	if st.Endpoint.Kind == "" {
		return DefaultEndpoint()
	}
	return st.Endpoint
}

// HashAPIKey is how an API key is kept and looked up: hex SHA-256.
func HashAPIKey(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}
