package docker

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// busyboxImage builds a FROM-scratch image holding Debian's static
// busybox with its applets installed, for tasks that need a shell.
func busyboxImage(t *testing.T, d *Docker) string {
	t.Helper()
	bb, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatalf("a shell image needs /bin/busybox (Debian's busybox-static): %v", err)
	}
	tag := uniqueName(t) + ":busybox"
	dockerfile := "FROM scratch\nCOPY build-id /build-id\nCOPY busybox /bin/busybox\nRUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\nENTRYPOINT [\"/bin/false\"]\n"
	files := map[string][]byte{"Dockerfile": []byte(dockerfile), "busybox": bb, "build-id": []byte(tag)}
	if _, err := d.BuildImage(testContext(t), engine.BuildOptions{Context: tarContext(t, files), Tags: []string{tag}}, nil); err != nil {
		t.Fatalf("build busybox image: %v", err)
	}
	t.Cleanup(func() { removeImage(t, d, tag) })
	return tag
}

func TestRunTask(t *testing.T) {
	d := requireDocker(t)
	image := busyboxImage(t, d)
	ctx := testContext(t)
	work := t.TempDir()
	label := map[string]string{"slipway.test.task": uniqueName(t)}

	var out bytes.Buffer
	code, err := d.RunTask(ctx, engine.TaskSpec{
		Name: uniqueName(t), Image: image, Labels: label,
		// The image's entrypoint (/bin/false) is not run: the command is.
		Cmd:        []string{"sh", "-c", "echo out; echo err >&2; echo $GREETING; pwd; echo made > made.txt; test -S /var/run/docker.sock && echo socket $DOCKER_HOST; exit 3"},
		Env:        []string{"GREETING=hello task"},
		WorkingDir: work, Mounts: []string{work}, DockerSocket: true,
	}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if code != 3 {
		t.Errorf("exit code %d, want 3", code)
	}
	// stdout and stderr are separate streams: their lines keep their
	// own order, not one between them.
	want := "out\nhello task\n" + work + "\nsocket unix:///var/run/docker.sock\n"
	if got := strings.Replace(out.String(), "err\n", "", 1); got != want || !strings.Contains(out.String(), "err\n") {
		t.Errorf("output %q, want %q and err", out.String(), want)
	}
	if b, err := os.ReadFile(filepath.Join(work, "made.txt")); err != nil || string(b) != "made\n" {
		t.Errorf("file written in the mounted dir: %q %v", b, err)
	}
	assertNoTaskContainers(t, d, label)

	// A cancelled task is killed and removed.
	cctx, cancel := context.WithTimeout(ctx, 1500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = d.RunTask(cctx, engine.TaskSpec{Name: uniqueName(t), Image: image, Labels: label, Cmd: []string{"sh", "-c", "echo started; sleep 60"}}, &out)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("cancelled task: %v, want the deadline", err)
	}
	if el := time.Since(start); el > 20*time.Second {
		t.Errorf("cancelled task returned after %s", el)
	}
	assertNoTaskContainers(t, d, label)
}

func TestRunTaskBadInput(t *testing.T) {
	d := requireDocker(t)
	ctx := testContext(t)
	_, err := d.RunTask(ctx, engine.TaskSpec{Name: uniqueName(t), Image: "slipway-test-absent/image:1", Cmd: []string{"true"}}, nil)
	if core.CodeOf(err) != core.CodeNotFound || !strings.Contains(err.Error(), "slipway-test-absent/image:1 is not on this machine and could not be pulled") {
		t.Errorf("missing image: %v (%s)", err, core.CodeOf(err))
	}
	_, err = d.RunTask(ctx, engine.TaskSpec{Name: uniqueName(t), Image: "x", Cmd: []string{"true"}, Mounts: []string{"relative/dir"}}, nil)
	if core.CodeOf(err) != core.CodeInvalid {
		t.Errorf("relative mount: %v", err)
	}
}

func assertNoTaskContainers(t *testing.T, d *Docker, labels map[string]string) {
	t.Helper()
	res, err := d.cli.ContainerList(context.Background(), client.ContainerListOptions{All: true, Filters: labelFilters(labels)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Items) != 0 {
		t.Errorf("%d task containers left behind", len(res.Items))
	}
}
