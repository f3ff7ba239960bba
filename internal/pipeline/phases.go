package pipeline

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
	"github.com/slipwayhq/slipway/internal/manifest"
)

// BuildspecFile is the buildspec looked for at the root of the source.
const BuildspecFile = "build.yml"

// keptEnv are the host variables a buildspec's commands still see; every
// other host variable is dropped so builds do not depend on the server's
// environment (and cannot read its secrets).
var keptEnv = []string{"PATH", "HOME", "LANG", "TMPDIR", "GOCACHE", "GOMODCACHE", "GOPATH", "GOPROXY", "DOCKER_HOST"}

// phaseEnv builds the clean environment of a buildspec run.
func phaseEnv(spec manifest.Buildspec, dir string, vars map[string]string) []string {
	env := []string{}
	for _, k := range keptEnv {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	env = append(env, "CODEBUILD_SRC_DIR="+dir)
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	for k, v := range spec.Env.Variables {
		env = append(env, k+"="+v)
	}
	return env
}

// Where says where a buildspec's commands run: on the host (the zero
// value) or, with Image set, in a throwaway container of that image
// (build.image), with the Docker socket and Mounts bound in at the same
// paths and the host's network, so the same variables work in both.
type Where struct {
	Image  string
	Engine engine.Engine
	Mounts []string          // host paths the commands use, besides dir
	Labels map[string]string // on each build container
}

// RunPhases runs the buildspec's phases in order, each as one `sh -e`
// script in dir, so a failing command stops its phase and `cd` or
// exported variables persist within it. Each command is echoed as "+ cmd"
// before it runs. A phase with on-failure CONTINUE does not stop the
// build; its finally commands always run.
func RunPhases(ctx context.Context, spec manifest.Buildspec, dir string, vars map[string]string, timeout time.Duration, where Where, emit func(core.Event)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	shell := spec.Env.Shell
	if shell == "" {
		shell = "sh"
	}
	run := func(commands []string, line func(string)) error {
		return runScript(ctx, shell, dir, phaseEnv(spec, dir, vars), commands, line)
	}
	if where.Image != "" {
		emit(core.Event{Type: core.EventLog, Message: "running build commands in " + where.Image + " (build.image)"})
		run = func(commands []string, line func(string)) error {
			return runInImage(ctx, where, shell, dir, imageEnv(spec, dir, vars), commands, line)
		}
	}
	for _, ph := range spec.Phases {
		emit(core.Event{Type: core.EventStep, Message: "build.yml phase " + ph.Name})
		tail := &tailBuffer{max: 20}
		err := run(ph.Commands, func(line string) {
			tail.add(line)
			emit(core.Event{Type: core.EventLog, Message: line})
		})
		if len(ph.Finally) > 0 {
			if ferr := run(ph.Finally, func(line string) {
				tail.add(line)
				emit(core.Event{Type: core.EventLog, Message: line})
			}); err == nil {
				err = ferr
			}
		}
		if err == nil {
			continue
		}
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return core.Errorf(core.CodeTimedOut, "build.yml phase %s timed out after %s; it was killed", ph.Name, timeout).WithDetails(tail.lines())
		}
		if ctx.Err() != nil {
			return core.Wrap(core.CodeConflict, ctx.Err(), "build canceled during build.yml phase %s", ph.Name)
		}
		if strings.EqualFold(ph.OnFailure, "CONTINUE") {
			emit(core.Event{Type: core.EventLog, Message: fmt.Sprintf("phase %s failed (%v); continuing (on-failure: CONTINUE)", ph.Name, err)})
			continue
		}
		return core.Errorf(core.CodeBuildFailed, "build.yml phase %s failed: %v", ph.Name, err).WithDetails(tail.lines())
	}
	return nil
}

// imageEnv is the environment of commands run in build.image: the
// buildspec's variables only, over the image's own (its PATH, say); no
// host variable.
func imageEnv(spec manifest.Buildspec, dir string, vars map[string]string) []string {
	env := []string{"CODEBUILD_SRC_DIR=" + dir}
	for k, v := range vars {
		env = append(env, k+"="+v)
	}
	for k, v := range spec.Env.Variables {
		env = append(env, k+"="+v)
	}
	return env
}

// script is commands as one `set -e` shell script that echoes each
// command as "+ cmd" before running it.
func script(commands []string) string {
	var b strings.Builder
	b.WriteString("set -e\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "printf '%%s\\n' %s\n%s\n", shellQuote("+ "+c), c)
	}
	return b.String()
}

// runInImage runs commands as one shell script in a build container,
// streaming its output (stderr folded into stdout, so lines keep their
// order). The container goes when the script ends or ctx does.
func runInImage(ctx context.Context, where Where, shell, dir string, env []string, commands []string, line func(string)) error {
	mounts := append([]string{dir}, where.Mounts...)
	pr, pw := io.Pipe()
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		scanLines(pr, line)
	}()
	code, err := where.Engine.RunTask(ctx, engine.TaskSpec{
		Image: where.Image, Cmd: []string{shell, "-c", "exec 2>&1\n" + script(commands)},
		Env: env, WorkingDir: dir, Mounts: mounts, Labels: where.Labels,
		DockerSocket: true, HostNetwork: true,
	}, pw)
	pw.Close()
	wg.Wait()
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case err != nil:
		return err
	case code != 0:
		return fmt.Errorf("exit status %d", code)
	}
	return nil
}

func scanLines(r io.Reader, line func(string)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line(sc.Text())
	}
	io.Copy(io.Discard, r)
}

// runScript runs commands as one shell script, streaming merged output.
// When the shell exits, its whole process group is killed, so a command
// left running in the background cannot outlive the build or hold the
// output open.
func runScript(ctx context.Context, shell, dir string, env []string, commands []string, line func(string)) error {
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, shell, "-c", script(commands))
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		scanLines(pr, line)
	}()
	err = cmd.Start()
	pw.Close() // the children hold the only write ends now
	if err == nil {
		err = cmd.Wait()
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	wg.Wait()
	pr.Close()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return fmt.Errorf("exit status %d", ee.ExitCode())
	}
	return err
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tailBuffer keeps the last max lines.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []string
}

func (t *tailBuffer) add(l string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, l)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
}

func (t *tailBuffer) lines() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]string(nil), t.buf...)
}
