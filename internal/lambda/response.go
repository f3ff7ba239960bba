package lambda

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"

	"github.com/aws/aws-lambda-go/events"
)

// ErrMalformedResponse: a function's payload is not a response API Gateway
// accepts for the payload version; API Gateway answers 502.
var ErrMalformedResponse = errors.New("malformed Lambda proxy response")

// WriteHTTPResponse writes a function's response payload to w the way API
// Gateway does for payload format version (PayloadV1 or PayloadV2).
//
// A JSON object with a statusCode is a proxy response: statusCode, headers,
// multiValueHeaders (whose values win over headers of the same name),
// cookies (2.0 only, one Set-Cookie each), body and isBase64Encoded. In 2.0
// anything else is the body of a 200 application/json response, a JSON
// string being unquoted; in 1.0 it is malformed.
//
// Errors wrapping ErrMalformedResponse come before anything is written, so
// the caller can still answer 502; any other error is from writing to w.
func WriteHTTPResponse(w http.ResponseWriter, payload []byte, version string) error {
	if version != PayloadV1 && version != PayloadV2 {
		return fmt.Errorf("%w: unknown payload version %q", ErrMalformedResponse, version)
	}
	resp, err := parseResponse(payload, version)
	if err != nil {
		return err
	}
	body := []byte(resp.Body)
	if resp.IsBase64Encoded {
		if body, err = base64.StdEncoding.DecodeString(resp.Body); err != nil {
			return fmt.Errorf("%w: body is not base64: %w", ErrMalformedResponse, err)
		}
	}

	h := w.Header()
	for name, value := range resp.Headers {
		h.Set(name, value)
	}
	for name, values := range resp.MultiValueHeaders {
		h.Del(name)
		for _, v := range values {
			h.Add(name, v)
		}
	}
	if version == PayloadV2 {
		for _, c := range resp.Cookies {
			h.Add("Set-Cookie", c)
		}
	}
	// The length is the body's, whatever the function said; framing
	// headers are the server's business.
	h.Del("Transfer-Encoding")
	h.Del("Connection")
	if noBody := resp.StatusCode < 200 || resp.StatusCode == http.StatusNoContent ||
		resp.StatusCode == http.StatusNotModified; noBody {
		h.Del("Content-Length")
	} else {
		h.Set("Content-Length", strconv.Itoa(len(body)))
	}
	if _, ok := h["Content-Type"]; !ok {
		h["Content-Type"] = nil // API Gateway does not guess; neither does net/http then
	}
	w.WriteHeader(resp.StatusCode)
	if _, err := w.Write(body); err != nil && !errors.Is(err, http.ErrBodyNotAllowed) {
		return fmt.Errorf("write response: %w", err)
	}
	return nil
}

// parseResponse reads payload as a proxy response (the 2.0 type has every
// 1.0 field), applying 2.0's default
// for payloads that are not one.
func parseResponse(payload []byte, version string) (events.APIGatewayV2HTTPResponse, error) {
	var fields map[string]json.RawMessage
	isObject := json.Unmarshal(payload, &fields) == nil
	if _, ok := fields["statusCode"]; isObject && ok {
		var resp events.APIGatewayV2HTTPResponse
		if err := json.Unmarshal(payload, &resp); err != nil {
			return resp, fmt.Errorf("%w: %w", ErrMalformedResponse, err)
		}
		if resp.StatusCode < 100 || resp.StatusCode > 599 {
			return resp, fmt.Errorf("%w: statusCode %d", ErrMalformedResponse, resp.StatusCode)
		}
		return resp, nil
	}
	if version == PayloadV1 {
		return events.APIGatewayV2HTTPResponse{}, fmt.Errorf("%w: not a JSON object with a statusCode", ErrMalformedResponse)
	}
	body := string(payload)
	var s string
	if json.Unmarshal(payload, &s) == nil {
		body = s
	}
	return events.APIGatewayV2HTTPResponse{
		StatusCode: http.StatusOK,
		Headers:    map[string]string{"Content-Type": "application/json"},
		Body:       body,
	}, nil
}
