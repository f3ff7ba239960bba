package lambda

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
)

func TestWriteHTTPResponseGolden(t *testing.T) {
	tests := []struct {
		name, version, payload string
	}{
		{"v2-object", PayloadV2, `{"statusCode":201,"headers":{"content-type":"text/plain","x-a":"1","x-b":"b"},` +
			`"multiValueHeaders":{"X-A":["2","3"]},"cookies":["a=1","b=2; Secure"],"body":"created"}`},
		{"v2-base64", PayloadV2, `{"statusCode":200,"headers":{"Content-Type":"image/png"},"body":"iVBORw0KGgo=","isBase64Encoded":true}`},
		{"v2-no-content-type", PayloadV2, `{"statusCode":204}`},
		{"v2-plain-object", PayloadV2, `{"message":"hi"}`},
		{"v2-string", PayloadV2, `"Hello from Lambda!"`},
		{"v2-number", PayloadV2, `42`},
		{"v2-not-json", PayloadV2, `<p>hi</p>`},
		{"v1-object", PayloadV1, `{"statusCode":302,"headers":{"Location":"/login"},` +
			`"multiValueHeaders":{"Set-Cookie":["a=1","b=2"]},"body":""}`},
		{"v1-ignores-cookies", PayloadV1, `{"statusCode":200,"cookies":["a=1"],"body":"ok"}`},
		{"err-v1-no-status", PayloadV1, `{"message":"hi"}`},
		{"err-v1-string", PayloadV1, `"hi"`},
		{"err-v2-bad-status", PayloadV2, `{"statusCode":42}`},
		{"err-v2-status-type", PayloadV2, `{"statusCode":"200"}`},
		{"err-v2-bad-base64", PayloadV2, `{"statusCode":200,"body":"%%%","isBase64Encoded":true}`},
		{"err-unknown-version", "3.0", `{"statusCode":200}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			err := WriteHTTPResponse(rec, []byte(tt.payload), tt.version)
			wantErr := strings.HasPrefix(tt.name, "err-")
			switch {
			case err != nil && !wantErr:
				t.Fatalf("unexpected error: %v", err)
			case err == nil && wantErr:
				t.Fatal("want an error, got none")
			case err != nil:
				if !errors.Is(err, ErrMalformedResponse) {
					t.Errorf("error %v is not ErrMalformedResponse", err)
				}
				if len(rec.Header()) != 0 || rec.Body.Len() != 0 || rec.Flushed {
					t.Error("wrote to the response before failing")
				}
				checkGolden(t, "response-"+tt.name, []byte(err.Error()+"\n"))
				return
			}
			checkGolden(t, "response-"+tt.name, dumpResponse(rec))
		})
	}
}

// dumpResponse renders a recorded response as status, sorted headers and body.
func dumpResponse(rec *httptest.ResponseRecorder) []byte {
	res := rec.Result()
	var b strings.Builder
	fmt.Fprintf(&b, "%d\n", res.StatusCode)
	names := make([]string, 0, len(res.Header))
	for name := range res.Header {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		for _, v := range res.Header[name] {
			fmt.Fprintf(&b, "%s: %s\n", name, v)
		}
	}
	fmt.Fprintf(&b, "\n%s\n", rec.Body.Bytes())
	return []byte(b.String())
}

func decodeBase64(t *testing.T, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
