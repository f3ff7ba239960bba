package docker

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// recorder collects build events; safe for use from the build's reader.
type recorder struct {
	mu     sync.Mutex
	events []engine.BuildEvent
}

func (r *recorder) add(e engine.BuildEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

func (r *recorder) steps() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Step != "" {
			out = append(out, e.Step)
		}
	}
	return out
}

func (r *recorder) lines() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, e := range r.events {
		if e.Line != "" {
			out = append(out, e.Line)
		}
	}
	return out
}

// layerLine matches the classic builder's " ---> 0123456789ab" lines.
var layerLine = regexp.MustCompile(`^ ---> ([0-9a-f]{12})$`)

// removeLayersOnCleanup removes the intermediate images a failed build
// leaves behind (a successful one's are pruned with its tag).
func removeLayersOnCleanup(t *testing.T, d *Docker, rec *recorder) {
	t.Cleanup(func() {
		lines := rec.lines()
		for i := len(lines) - 1; i >= 0; i-- {
			m := layerLine.FindStringSubmatch(lines[i])
			if m == nil {
				continue
			}
			// A layer other builds share (the cache) is not ours to
			// remove; it goes when their images do.
			err := d.RemoveImage(context.Background(), m[1])
			if err != nil && core.CodeOf(err) != core.CodeConflict {
				t.Errorf("cleanup: remove layer %s: %v", m[1], err)
			}
		}
	})
}

// buildTestDockerfile adds an exec-form RUN (there is no shell in
// scratch) whose output must reach the build progress.
const buildTestDockerfile = `FROM scratch
COPY build-id /build-id
COPY server /server
RUN ["/server", "-exit", "0", "-print", "hello from the build"]
ENTRYPOINT ["/server"]
`

func TestBuildImage(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	ctx := testContext(t)
	tag := uniqueName(t) + ":v1"
	extra := strings.TrimSuffix(tag, ":v1") + ":latest"
	t.Cleanup(func() { removeImage(t, d, extra); removeImage(t, d, tag) })

	var rec recorder
	id, err := d.BuildImage(ctx, engine.BuildOptions{
		Context: serverContext(t, buildTestDockerfile),
		Tags:    []string{tag, extra},
		Labels:  map[string]string{"slipway.stack": "enginetest"},
		NoCache: true,
	}, rec.add)
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	if !strings.HasPrefix(id, "sha256:") {
		t.Errorf("image ID %q is not a full sha256 ID", id)
	}

	steps := rec.steps()
	if len(steps) < 5 || !strings.HasPrefix(steps[0], "Step 1/") || !strings.HasSuffix(steps[0], ": FROM scratch") {
		t.Fatalf("steps = %q, want Step 1/N : FROM scratch first", steps)
	}
	if !slices.ContainsFunc(steps, func(s string) bool { return strings.Contains(s, ": COPY server /server") }) {
		t.Errorf("no COPY step in %q", steps)
	}
	for _, e := range rec.events {
		if e.Step != "" && e.Line != "" {
			t.Errorf("event has both Step and Line: %+v", e)
		}
		if strings.HasSuffix(e.Step, "\n") || strings.HasSuffix(e.Line, "\n") {
			t.Errorf("event keeps its newline: %+v", e)
		}
	}
	if lines := rec.lines(); !slices.Contains(lines, "hello from the build") {
		t.Errorf("RUN output missing from lines %q", lines)
	}

	for _, ref := range []string{tag, extra} {
		img, err := d.cli.ImageInspect(ctx, ref)
		if err != nil {
			t.Fatalf("inspect %s: %v", ref, err)
		}
		if img.ID != id {
			t.Errorf("%s is %s, BuildImage returned %s", ref, img.ID, id)
		}
		if got := img.Config.Labels["slipway.stack"]; got != "enginetest" {
			t.Errorf("label slipway.stack = %q", got)
		}
	}

	// The intermediate RUN container was removed (rm/forcerm).
	if ids := runContainers(&rec); len(ids) == 0 {
		t.Error("no 'Running in' line; cannot check intermediate containers")
	} else {
		for _, cid := range ids {
			if _, err := d.InspectContainer(ctx, cid); !core.IsNotFound(err) {
				t.Errorf("intermediate container %s still there (err %v)", cid, err)
			}
		}
	}
}

// runContainers returns the intermediate containers a build reported.
func runContainers(rec *recorder) []string {
	var ids []string
	for _, l := range rec.lines() {
		if id, ok := strings.CutPrefix(l, " ---> Running in "); ok {
			ids = append(ids, id)
		}
	}
	return ids
}

func TestBuildImageFailures(t *testing.T) {
	t.Parallel()
	d := requireDocker(t)
	cases := []struct {
		name       string
		dockerfile string
		wantMsg    string
		wantLine   string
	}{
		{
			name:       "unknown instruction",
			dockerfile: "FROM scratch\nFROMM scratch\n",
			wantMsg:    "unknown instruction",
		},
		{
			name:       "copy of a missing file",
			dockerfile: "FROM scratch\nCOPY build-id /build-id\nCOPY server /server\nCOPY missing.txt /missing.txt\n",
			wantMsg:    "missing.txt",
		},
		{
			name:       "failing RUN",
			dockerfile: "FROM scratch\nCOPY build-id /build-id\nCOPY server /server\nRUN [\"/server\", \"-exit\", \"3\", \"-print\", \"about to fail\"]\n",
			wantMsg:    "returned a non-zero code: 3",
			wantLine:   "about to fail",
		},
		{
			name:       "missing Dockerfile",
			dockerfile: "",
			wantMsg:    "Dockerfile",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tag := uniqueName(t) + ":broken"
			t.Cleanup(func() { removeImage(t, d, tag) })
			var rec recorder
			removeLayersOnCleanup(t, d, &rec)

			opts := engine.BuildOptions{Context: serverContext(t, tc.dockerfile), Tags: []string{tag}}
			if tc.dockerfile == "" {
				opts.Dockerfile = "does/not/exist/Dockerfile"
			}
			_, err := d.BuildImage(testContext(t), opts, rec.add)
			assertCode(t, err, core.CodeBuildFailed)
			if !strings.Contains(err.Error(), tc.wantMsg) || strings.Contains(err.Error(), "\n") {
				t.Errorf("message %q should be one line containing %q", err, tc.wantMsg)
			}
			if tc.wantLine != "" && !slices.Contains(rec.lines(), tc.wantLine) {
				t.Errorf("lines %q miss %q", rec.lines(), tc.wantLine)
			}
			t.Logf("build failed as expected: %v", err)
		})
	}
}

// TestReadBuildStream covers the stream parser on canned daemon output,
// including chunks that split and join lines.
func TestReadBuildStream(t *testing.T) {
	stream := `{"stream":"Step 1/3 : FROM scratch\n"}
{"stream":"\n"}
{"stream":" ---\u003e Running in 3f2a\n"}
{"stream":"first li"}
{"stream":"ne\nsecond line\r\nthird"}
{"stream":"\n"}
{"stream":"Step 2/3 : COPY app /app\n"}
{"status":"Pulling fs layer","id":"abc"}
{"status":"Downloading","progressDetail":{"current":1,"total":10},"id":"abc"}
{"status":"Downloading","progressDetail":{"current":5,"total":10},"id":"abc"}
{"aux":{"ID":"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}}
{"stream":"Successfully built 0123456789ab\n"}
`
	var rec recorder
	id, err := readBuildStream(strings.NewReader(stream), rec.add)
	if err != nil {
		t.Fatal(err)
	}
	if id != "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" {
		t.Errorf("id = %q", id)
	}
	want := []engine.BuildEvent{
		{Step: "Step 1/3 : FROM scratch"},
		{Line: " ---> Running in 3f2a"},
		{Line: "first line"},
		{Line: "second line"},
		{Line: "third"},
		{Step: "Step 2/3 : COPY app /app"},
		{Line: "abc: Pulling fs layer"},
		{Line: "abc: Downloading"},
		{Line: "Successfully built 0123456789ab"},
	}
	if !slices.Equal(rec.events, want) {
		t.Errorf("events:\n got %q\nwant %q", rec.events, want)
	}
}

func TestReadBuildStreamError(t *testing.T) {
	for name, stream := range map[string]string{
		"errorDetail": `{"stream":"Step 1/1 : RUN false\n"}
{"stream":"partial output"}
{"errorDetail":{"code":1,"message":"The command '/bin/sh -c false' returned a non-zero code: 1"},"error":"The command '/bin/sh -c false' returned a non-zero code: 1"}
`,
		"legacy error": `{"error":"The command '/bin/sh -c false' returned a non-zero code: 1"}`,
	} {
		t.Run(name, func(t *testing.T) {
			var rec recorder
			_, err := readBuildStream(strings.NewReader(stream), rec.add)
			assertCode(t, err, core.CodeBuildFailed)
			if err.Error() != "The command '/bin/sh -c false' returned a non-zero code: 1" {
				t.Errorf("message = %q", err)
			}
			if name == "errorDetail" && !slices.Contains(rec.lines(), "partial output") {
				t.Errorf("partial line before the error was not flushed: %q", rec.lines())
			}
		})
	}
}

func TestReadBuildStreamShortIDFallback(t *testing.T) {
	id, err := readBuildStream(strings.NewReader(`{"stream":"Successfully built 0123456789ab\n"}`), func(engine.BuildEvent) {})
	if err != nil || id != "0123456789ab" {
		t.Fatalf("id, err = %q, %v", id, err)
	}
}
