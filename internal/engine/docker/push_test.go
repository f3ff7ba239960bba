package docker

import (
	"slices"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

// Pushing for real needs a registry; the pipeline's end-to-end tests push
// to the embedded one. These cover the stream handling on canned output
// as Docker 20.10 sends it.

const pushDigest = "sha256:8f2fe3ccb4c2b1fdd7f5e1c1c4a8b1b7c0e4d2a7a1f3b5c6d7e8f9a0b1c2d3e4"

func TestReadPushStream(t *testing.T) {
	stream := `{"status":"The push refers to repository [localhost:5000/app]"}
{"status":"Preparing","progressDetail":{},"id":"5f70bf18a086"}
{"status":"Preparing","progressDetail":{},"id":"a3ed95caeb02"}
{"status":"Pushing","progressDetail":{"current":512,"total":8425957},"progress":"[\u003e  ]","id":"5f70bf18a086"}
{"status":"Pushing","progressDetail":{"current":4194304,"total":8425957},"progress":"[====\u003e ]","id":"5f70bf18a086"}
{"status":"Layer already exists","progressDetail":{},"id":"a3ed95caeb02"}
{"status":"Pushing","progressDetail":{"current":8425957,"total":8425957},"progress":"[=====\u003e]","id":"5f70bf18a086"}
{"status":"Pushed","progressDetail":{},"id":"5f70bf18a086"}
{"status":"abc123: digest: ` + pushDigest + ` size: 739"}
{"progressDetail":{},"aux":{"Tag":"abc123","Digest":"` + pushDigest + `","Size":739}}
`
	var lines []string
	digest, err := readPushStream("localhost:5000/app:abc123", strings.NewReader(stream), func(l string) { lines = append(lines, l) })
	if err != nil {
		t.Fatal(err)
	}
	if digest != pushDigest {
		t.Errorf("digest = %q", digest)
	}
	want := []string{
		"The push refers to repository [localhost:5000/app]",
		"5f70bf18a086: Preparing",
		"a3ed95caeb02: Preparing",
		"5f70bf18a086: Pushing",
		"a3ed95caeb02: Layer already exists",
		"5f70bf18a086: Pushed",
		"abc123: digest: " + pushDigest + " size: 739",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("progress:\n got %q\nwant %q", lines, want)
	}
}

func TestReadPushStreamDigestFromStatus(t *testing.T) {
	stream := `{"status":"latest: digest: ` + pushDigest + ` size: 528"}`
	digest, err := readPushStream("localhost:5000/app:abc123", strings.NewReader(stream), func(string) {})
	if err != nil || digest != pushDigest {
		t.Fatalf("digest, err = %q, %v", digest, err)
	}
}

func TestReadPushStreamErrors(t *testing.T) {
	cases := map[string]struct {
		stream string
		code   core.Code
	}{
		"registry down": {
			stream: `{"status":"The push refers to repository [localhost:5000/app]"}
{"errorDetail":{"message":"Get \"http://localhost:5000/v2/\": dial tcp 127.0.0.1:5000: connect: connection refused"},"error":"Get \"http://localhost:5000/v2/\": dial tcp 127.0.0.1:5000: connect: connection refused"}`,
			code: core.CodeUnavailable,
		},
		"unauthorized": {
			stream: `{"errorDetail":{"message":"unauthorized: authentication required"},"error":"unauthorized: authentication required"}`,
			code:   core.CodeUnavailable,
		},
		"no local image": {
			stream: `{"errorDetail":{"message":"An image does not exist locally with the tag: localhost:5000/app"},"error":"An image does not exist locally with the tag: localhost:5000/app"}`,
			code:   core.CodeNotFound,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := readPushStream("localhost:5000/app:abc123", strings.NewReader(tc.stream), func(string) {})
			assertCode(t, err, tc.code)
			if !strings.HasPrefix(err.Error(), "push localhost:5000/app:abc123: ") {
				t.Errorf("message %q does not name the image", err)
			}
		})
	}
}
