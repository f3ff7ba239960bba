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

// RunPhases runs the buildspec's phases in order, each as one `sh -e`
// script in dir, so a failing command stops its phase and `cd` or
// exported variables persist within it. Each command is echoed as "+ cmd"
// before it runs. A phase with on-failure CONTINUE does not stop the
// build; its finally commands always run.
func RunPhases(ctx context.Context, spec manifest.Buildspec, dir string, vars map[string]string, timeout time.Duration, emit func(core.Event)) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	env := phaseEnv(spec, dir, vars)
	shell := spec.Env.Shell
	if shell == "" {
		shell = "sh"
	}
	for _, ph := range spec.Phases {
		emit(core.Event{Type: core.EventStep, Message: "build.yml phase " + ph.Name})
		tail := &tailBuffer{max: 20}
		err := runScript(ctx, shell, dir, env, ph.Commands, func(line string) {
			tail.add(line)
			emit(core.Event{Type: core.EventLog, Message: line})
		})
		if len(ph.Finally) > 0 {
			if ferr := runScript(ctx, shell, dir, env, ph.Finally, func(line string) {
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
			return core.Errorf(core.CodeBuildFailed, "build.yml phase %s timed out after %s", ph.Name, timeout).WithDetails(tail.lines())
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

// runScript runs commands as one shell script, streaming merged output.
// When the shell exits, its whole process group is killed, so a command
// left running in the background cannot outlive the build or hold the
// output open.
func runScript(ctx context.Context, shell, dir string, env []string, commands []string, line func(string)) error {
	var script strings.Builder
	script.WriteString("set -e\n")
	for _, c := range commands {
		fmt.Fprintf(&script, "printf '%%s\\n' %s\n%s\n", shellQuote("+ "+c), c)
	}
	pr, pw, err := os.Pipe()
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, shell, "-c", script.String())
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdout, cmd.Stderr = pw, pw
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line(sc.Text())
		}
		io.Copy(io.Discard, pr)
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
