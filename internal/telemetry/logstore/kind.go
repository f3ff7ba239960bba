package logstore

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// Kind is one of a stage's four logs.
type Kind string

const (
	Runtime Kind = "runtime" // instance stdout and stderr (Line)
	Build   Kind = "build"   // a stack's pipeline runs (stage "")
	Release Kind = "release" // release.yml output and rollout progress
	Access  Kind = "access"  // one entry per request through the gateway
)

// Kinds lists every kind, in the order they are documented.
var Kinds = []Kind{Runtime, Build, Release, Access}

// ParseKind accepts a kind's name; "" means runtime.
func ParseKind(s string) (Kind, error) {
	if s == "" {
		return Runtime, nil
	}
	for _, k := range Kinds {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("invalid log kind %q: use runtime, build, release or access", s)
}

// StackStage is the stage directory of logs that belong to the whole
// stack (builds). No stage can be named so: stage names start with a
// letter.
const StackStage = "_stack"

// Key names one stream: a stage's log of one kind. Stage "" is the
// stack's own (build logs).
type Key struct {
	Stack string
	Stage string
	Kind  Kind
}

func (k Key) String() string {
	stage := k.Stage
	if stage == "" {
		stage = StackStage
	}
	return k.Stack + "/" + stage + "/" + string(k.Kind)
}

// dir is the stream's directory under root.
func (k Key) dir(root string) string {
	stage := k.Stage
	if stage == "" {
		stage = StackStage
	}
	return filepath.Join(root, k.Stack, stage, string(k.Kind))
}

// validate refuses keys that would escape the store's directory.
func (k Key) validate() error {
	for _, part := range []string{k.Stack, k.Stage} {
		if strings.ContainsAny(part, `/\`) || strings.HasPrefix(part, ".") {
			return fmt.Errorf("invalid log stream %s: names cannot hold '/' or start with '.'", k)
		}
	}
	if k.Stack == "" {
		return fmt.Errorf("invalid log stream %s: no stack", k)
	}
	if _, err := ParseKind(string(k.Kind)); err != nil || k.Kind == "" {
		return fmt.Errorf("invalid log stream %s: unknown kind %q", k, k.Kind)
	}
	return nil
}

// ParseSince reads a point in time given as a duration before now
// ("90m", "2h", "3d") or as RFC 3339 ("2026-11-22T08:00:00Z"). "" is
// the zero time (no bound).
func ParseSince(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := ParseAge(s); err == nil {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("invalid time %q: use a duration like 10m, 2h or 3d, or an RFC 3339 time like 2026-11-22T08:00:00Z", s)
}

// ParseAge reads a non-negative duration: Go's form ("36h", "90m") or
// whole days ("90d").
func ParseAge(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		days, err := strconv.Atoi(n)
		if err != nil || days < 0 || days > 100*365 {
			return 0, fmt.Errorf("invalid duration %q: use whole days like 90d, or a duration like 36h", s)
		}
		return time.Duration(days) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("invalid duration %q: use whole days like 90d, or a duration like 36h", s)
	}
	return d, nil
}

// ParseSize reads a byte count: plain ("65536") or with a binary unit
// (KiB, MiB, GiB; K, M and G mean the same).
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1}} {
		if n, ok := strings.CutSuffix(t, u.suffix); ok {
			t, mult = n, u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(t), 10, 64)
	if err != nil || n <= 0 || n > (1<<50)/mult {
		return 0, fmt.Errorf("invalid size %q: use a positive number of bytes, optionally with KiB, MiB or GiB (e.g. 256MiB)", s)
	}
	return n * mult, nil
}
