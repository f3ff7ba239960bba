package lambda

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var eventTime = time.Date(2026, 3, 4, 5, 6, 7, 89e6, time.UTC)

// eventRequests are the requests every HTTP payload format is tested with.
func eventRequests() map[string]struct {
	req  *http.Request
	body []byte
} {
	type rb = struct {
		req  *http.Request
		body []byte
	}
	get := httptest.NewRequest(http.MethodGet, "http://dev.shop.localhost:8080/search/a%20b?q=go&tag=x&tag=y", nil)
	get.Header.Set("User-Agent", "curl/8.5.0")
	get.Header["Accept"] = []string{"text/html", "application/json"}
	get.Header.Set("Cookie", "theme=dark; lang=en")
	get.Header.Set("X-Forwarded-For", "203.0.113.9")

	jsonBody := []byte(`{"name":"Zoë"}`)
	post := httptest.NewRequest(http.MethodPost, "https://api.example.com/orders", bytes.NewReader(jsonBody))
	post.Header.Set("Content-Type", "application/json; charset=utf-8")

	png := []byte("\x89PNG\r\n\x1a\n\x00\x00")
	put := httptest.NewRequest(http.MethodPut, "http://localhost/", bytes.NewReader(png))
	put.Header.Set("Content-Type", "image/png")

	untyped := httptest.NewRequest(http.MethodPost, "http://10.0.0.5/upload", strings.NewReader("raw"))

	return map[string]rb{
		"get-query-cookies": {get, nil},
		"post-json":         {post, jsonBody},
		"put-binary":        {put, png},
		"post-untyped":      {untyped, []byte("raw")},
	}
}

func TestHTTPEventGolden(t *testing.T) {
	formats := map[string]func(*http.Request, []byte, string, string, time.Time) ([]byte, error){
		"v1": HTTPEventV1,
		"v2": HTTPEventV2,
	}
	for version, translate := range formats {
		for name, c := range eventRequests() {
			t.Run(version+"-"+name, func(t *testing.T) {
				ev, err := translate(c.req, c.body, "dev", "req-123", eventTime)
				if err != nil {
					t.Fatal(err)
				}
				checkGolden(t, "event-"+version+"-"+name, indent(t, ev))
			})
		}
	}
}

// The events must decode into the types functions use.
func TestHTTPEventDecodes(t *testing.T) {
	for name, c := range eventRequests() {
		ev, err := HTTPEventV2(c.req, c.body, "dev", "req-123", eventTime)
		if err != nil {
			t.Fatal(err)
		}
		var v2 struct {
			RawPath         string
			Body            string
			IsBase64Encoded bool
		}
		if err := json.Unmarshal(ev, &v2); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body := []byte(v2.Body)
		if v2.IsBase64Encoded {
			body = decodeBase64(t, v2.Body)
		}
		if !bytes.Equal(body, c.body) {
			t.Errorf("%s: body %q, want %q", name, body, c.body)
		}
	}
}

func TestHTTPEventTooLarge(t *testing.T) {
	body := bytes.Repeat([]byte("a"), MaxPayloadSize)
	req := httptest.NewRequest(http.MethodPost, "http://localhost/", bytes.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	for _, translate := range []func(*http.Request, []byte, string, string, time.Time) ([]byte, error){HTTPEventV1, HTTPEventV2} {
		if _, err := translate(req, body, "dev", "r", eventTime); !errors.Is(err, ErrEventTooLarge) {
			t.Errorf("err = %v, want ErrEventTooLarge", err)
		}
	}
}

func TestScheduledEventGolden(t *testing.T) {
	ev := ScheduledEvent("arn:aws:events:us-east-1:000000000000:rule/shop-dev-nightly", eventTime)
	checkGolden(t, "event-scheduled", indent(t, ev))
	again := ScheduledEvent("arn:aws:events:us-east-1:000000000000:rule/shop-dev-nightly", eventTime.Add(time.Minute))
	if bytes.Equal(ev, again) {
		t.Error("two firings share an event")
	}
}

func indent(t *testing.T, b []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	out.WriteByte('\n')
	return out.Bytes()
}
