package lambda

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-lambda-go/events"
)

// Payload format versions of API Gateway's Lambda proxy integration.
const (
	PayloadV1 = "1.0"
	PayloadV2 = "2.0"
)

// ErrEventTooLarge: an HTTP request makes an event over MaxPayloadSize,
// which Lambda would refuse (API Gateway answers 413).
var ErrEventTooLarge = errors.New("event exceeds the 6 MB payload limit")

// requestTimeLayout is API Gateway's requestContext time ("21/Apr/2020:15:08:21 +0000").
const requestTimeLayout = "02/Jan/2006:15:04:05 -0700"

// v2Event is the 2.0 request, with requestContext.authentication left out
// when there is no client certificate, as API Gateway does (the events
// type would always write an empty one).
type v2Event struct {
	events.APIGatewayV2HTTPRequest
	RequestContext v2Context `json:"requestContext"`
}

type v2Context struct {
	events.APIGatewayV2HTTPRequestContext
	Authentication *events.APIGatewayV2HTTPRequestContextAuthentication `json:"authentication,omitempty"`
}

// HTTPEventV2 translates an HTTP request, whose body was read into body,
// into the event API Gateway's HTTP API sends with payload format 2.0 on
// its $default route. stage and requestID fill requestContext; now is the
// request's time.
func HTTPEventV2(r *http.Request, body []byte, stage, requestID string, now time.Time) ([]byte, error) {
	src := newSource(r, now)
	headers := make(map[string]string, len(r.Header)+4)
	var cookies []string
	for name, values := range r.Header {
		name = strings.ToLower(name)
		if name == "cookie" {
			cookies = append(cookies, splitCookies(values)...)
			continue
		}
		headers[name] = strings.Join(values, ",")
	}
	for name, value := range src.extraHeaders(r) {
		headers[strings.ToLower(name)] = value
	}
	var query map[string]string
	if values := r.URL.Query(); len(values) > 0 {
		query = make(map[string]string, len(values))
		for name, vs := range values {
			query[name] = strings.Join(vs, ",")
		}
	}
	text, isBase64 := encodeBody(r.Header.Get("Content-Type"), body)
	ev := v2Event{
		APIGatewayV2HTTPRequest: events.APIGatewayV2HTTPRequest{
			Version:               PayloadV2,
			RouteKey:              "$default",
			RawPath:               r.URL.EscapedPath(),
			RawQueryString:        r.URL.RawQuery,
			Cookies:               cookies,
			Headers:               headers,
			QueryStringParameters: query,
			Body:                  text,
			IsBase64Encoded:       isBase64,
		},
		RequestContext: v2Context{APIGatewayV2HTTPRequestContext: events.APIGatewayV2HTTPRequestContext{
			RouteKey:     "$default",
			AccountID:    AccountID,
			Stage:        stage,
			RequestID:    requestID,
			APIID:        src.apiID,
			DomainName:   src.domain,
			DomainPrefix: src.domainPrefix,
			Time:         src.now.Format(requestTimeLayout),
			TimeEpoch:    src.now.UnixMilli(),
			HTTP: events.APIGatewayV2HTTPRequestContextHTTPDescription{
				Method:    r.Method,
				Path:      r.URL.Path,
				Protocol:  r.Proto,
				SourceIP:  src.ip,
				UserAgent: r.UserAgent(),
			},
		}},
	}
	return marshalEvent(ev)
}

// HTTPEventV1 translates an HTTP request into the event of API Gateway's
// payload format 1.0 (a REST API's proxy integration on /{proxy+}).
func HTTPEventV1(r *http.Request, body []byte, stage, requestID string, now time.Time) ([]byte, error) {
	src := newSource(r, now)
	multi := make(map[string][]string, len(r.Header)+4)
	for name, values := range r.Header {
		multi[name] = values
	}
	for name, value := range src.extraHeaders(r) {
		multi[name] = []string{value}
	}
	headers := make(map[string]string, len(multi))
	for name, values := range multi {
		headers[name] = values[len(values)-1] // API Gateway keeps the last
	}
	var query map[string]string
	var multiQuery map[string][]string
	if values := r.URL.Query(); len(values) > 0 {
		query = make(map[string]string, len(values))
		multiQuery = values
		for name, vs := range values {
			query[name] = vs[len(vs)-1]
		}
	}
	var pathParams map[string]string
	if p := strings.TrimPrefix(r.URL.Path, "/"); p != "" {
		pathParams = map[string]string{"proxy": p}
	}
	text, isBase64 := encodeBody(r.Header.Get("Content-Type"), body)
	ev := events.APIGatewayProxyRequest{
		Resource:                        "/{proxy+}",
		Path:                            r.URL.Path,
		HTTPMethod:                      r.Method,
		Headers:                         headers,
		MultiValueHeaders:               multi,
		QueryStringParameters:           query,
		MultiValueQueryStringParameters: multiQuery,
		PathParameters:                  pathParams,
		Body:                            text,
		IsBase64Encoded:                 isBase64,
		RequestContext: events.APIGatewayProxyRequestContext{
			AccountID:         AccountID,
			ResourceID:        src.apiID[:6],
			Stage:             stage,
			DomainName:        src.domain,
			DomainPrefix:      src.domainPrefix,
			RequestID:         requestID,
			ExtendedRequestID: requestID,
			Protocol:          r.Proto,
			Identity:          events.APIGatewayRequestIdentity{SourceIP: src.ip, UserAgent: r.UserAgent()},
			ResourcePath:      "/{proxy+}",
			Path:              r.URL.Path,
			HTTPMethod:        r.Method,
			RequestTime:       src.now.Format(requestTimeLayout),
			RequestTimeEpoch:  src.now.UnixMilli(),
			APIID:             src.apiID,
		},
	}
	return marshalEvent(ev)
}

// ScheduledEvent is the EventBridge event a schedule rule (ruleARN) sends
// at t. Its id is derived from both, so that one firing has one id.
func ScheduledEvent(ruleARN string, t time.Time) []byte {
	t = t.UTC().Truncate(time.Second)
	sum := sha256.Sum256([]byte(ruleARN + "\x00" + t.Format(time.RFC3339)))
	id := hex.EncodeToString(sum[:16])
	ev := events.EventBridgeEvent{
		Version:    "0",
		ID:         id[0:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:32],
		DetailType: "Scheduled Event",
		Source:     "aws.events",
		AccountID:  AccountID,
		Time:       t,
		Region:     Region,
		Resources:  []string{ruleARN},
		Detail:     json.RawMessage("{}"),
	}
	b, err := json.Marshal(ev)
	if err != nil {
		panic(fmt.Sprintf("lambda: marshal scheduled event: %v", err)) // plain data: cannot fail
	}
	return b
}

// source is what both HTTP payload formats say about where a request came
// from.
type source struct {
	now          time.Time
	ip           string
	domain       string
	domainPrefix string
	apiID        string
}

func newSource(r *http.Request, now time.Time) source {
	ip := clientIP(r)
	domain := r.Host
	if h, _, err := net.SplitHostPort(domain); err == nil {
		domain = h
	}
	prefix, _, _ := strings.Cut(domain, ".")
	if net.ParseIP(domain) != nil {
		prefix = domain
	}
	// API ids are ten lowercase alphanumerics; derive a stable one.
	sum := sha256.Sum256([]byte(domain))
	return source{
		now:          now.UTC(),
		ip:           ip,
		domain:       domain,
		domainPrefix: prefix,
		apiID:        hex.EncodeToString(sum[:5]),
	}
}

// extraHeaders are the X-Forwarded-* headers API Gateway adds, where the
// request does not have them yet.
func (s source) extraHeaders(r *http.Request) map[string]string {
	proto, port := "http", "80"
	if r.TLS != nil {
		proto, port = "https", "443"
	}
	if _, p, err := net.SplitHostPort(r.Host); err == nil {
		port = p
	}
	extra := map[string]string{}
	for name, value := range map[string]string{
		"X-Forwarded-For":   s.ip,
		"X-Forwarded-Proto": proto,
		"X-Forwarded-Port":  port,
	} {
		if r.Header.Get(name) == "" {
			extra[name] = value
		}
	}
	if r.Host != "" {
		extra["Host"] = r.Host
	}
	return extra
}

// clientIP is the event's sourceIp: the leftmost X-Forwarded-For entry
// when it is an IP address, else RemoteAddr's host. The gateway gives a
// function X-Forwarded-For with the client first and nothing the client
// wrote itself, and RemoteAddr is only its direct peer (a trusted proxy
// in front, say).
func clientIP(r *http.Request) string {
	if v := r.Header.Get("X-Forwarded-For"); v != "" {
		first, _, _ := strings.Cut(v, ",")
		if first = strings.TrimSpace(first); net.ParseIP(first) != nil {
			return first
		}
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return ip
}

// splitCookies turns Cookie headers into the v2 event's cookies list.
func splitCookies(values []string) []string {
	var out []string
	for _, v := range values {
		for c := range strings.SplitSeq(v, ";") {
			if c = strings.TrimSpace(c); c != "" {
				out = append(out, c)
			}
		}
	}
	return out
}

// encodeBody returns body as an event's body string, base64 unless its
// content type is textual and it is valid UTF-8.
func encodeBody(contentType string, body []byte) (string, bool) {
	if len(body) == 0 {
		return "", false
	}
	if isTextual(contentType) && utf8.Valid(body) {
		return string(body), false
	}
	return base64.StdEncoding.EncodeToString(body), true
}

func isTextual(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	switch {
	case strings.HasPrefix(mt, "text/"),
		strings.HasSuffix(mt, "+json"), strings.HasSuffix(mt, "+xml"):
		return true
	}
	switch mt {
	case "application/json", "application/xml", "application/javascript",
		"application/x-www-form-urlencoded", "application/graphql", "application/yaml":
		return true
	}
	return false
}

// marshalEvent encodes an event as API Gateway does: without escaping
// "<", ">" and "&" for HTML.
func marshalEvent(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("marshal event: %w", err)
	}
	b := bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	if len(b) > MaxPayloadSize {
		return nil, fmt.Errorf("%w (%d bytes)", ErrEventTooLarge, len(b))
	}
	return b, nil
}
