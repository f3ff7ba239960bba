package server

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/gateway"
	"github.com/slipwayhq/slipway/internal/service"
	"github.com/slipwayhq/slipway/internal/store/sqlite"
	"github.com/slipwayhq/slipway/internal/telemetry"
)

// ScrapeTokenFile holds the read-only token that opens /metrics only
// (point Prometheus's bearer_token_file at it). Mode 0600.
const ScrapeTokenFile = "scrape-token"

const scrapeSetting = "scrape_token_sha256"

// scrapeToken returns the scrape token from <data-dir>/scrape-token when
// its hash matches the stored one; otherwise (first start, a lost file)
// it makes a new one. Only its hash is stored in state.db.
func scrapeToken(ctx context.Context, st *sqlite.Store, dataDir string) (string, error) {
	path := filepath.Join(dataDir, ScrapeTokenFile)
	stored, err := st.GetSetting(ctx, scrapeSetting)
	if err != nil && !core.IsNotFound(err) {
		return "", err
	}
	if b, rerr := os.ReadFile(path); rerr == nil && stored != "" {
		tok := strings.TrimSpace(string(b))
		if h := sha256.Sum256([]byte(tok)); hex.EncodeToString(h[:]) == stored {
			return tok, nil
		}
	} else if rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		return "", fmt.Errorf("read %s: %w", path, rerr)
	}
	b := make([]byte, 24)
	rand.Read(b)
	tok := "slws_" + hex.EncodeToString(b)
	h := sha256.Sum256([]byte(tok))
	if err := st.PutSetting(ctx, scrapeSetting, hex.EncodeToString(h[:])); err != nil {
		return "", err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("write %s: %w", path, err)
	}
	return tok, nil
}

// requestMetric is what the metrics store takes of a finished request. A
// 429 that no instance was tried for is the gateway's own throttle.
func requestMetric(ri gateway.RequestInfo) telemetry.Request {
	return telemetry.Request{Stack: ri.Stack, Stage: ri.Stage, Instance: ri.BackendID, Status: ri.Status,
		Latency: ri.Duration, ColdStart: ri.ColdStart, Throttled: ri.Status == 429 && ri.Attempts == 0}
}

// countOutcome counts a finished build or release.
func countOutcome(m *telemetry.Store, o service.Outcome) {
	k := telemetry.Key{Stack: o.Stack, Stage: o.Stage}
	switch {
	case o.Release == "" && o.Succeeded:
		k.Metric = telemetry.BuildsSucceeded
	case o.Release == "":
		k.Metric = telemetry.BuildsFailed
	case o.Succeeded:
		k.Metric = telemetry.ReleasesSucceeded
	default:
		k.Metric = telemetry.ReleasesFailed
	}
	m.Add(k, 1)
}

// countInvocation adds a serverless invocation's GB-seconds.
func countInvocation(m *telemetry.Store, inv core.Invocation) {
	if !inv.Throttled {
		m.Add(telemetry.Key{Stack: inv.Stack, Stage: inv.Stage, Metric: telemetry.GBSeconds}, inv.GBSeconds())
	}
}

// metricsSource lists the stages and their live instances for the
// metrics sampler: the stacks' specs from the store (one query) and the
// instances the controllers track (no I/O).
type metricsSource struct {
	stacks interface {
		ListStacks(context.Context) ([]core.Stack, error)
	}
	instances []instanceLister
}

// instanceLister is a controller (container or serverless).
type instanceLister interface {
	Instances(stack string) []core.Instance
}

var _ telemetry.Source = metricsSource{}

func (m metricsSource) Stages(ctx context.Context) ([]telemetry.StageInstances, error) {
	stacks, err := m.stacks.ListStacks(ctx)
	if err != nil {
		return nil, err
	}
	type stageKey struct{ stack, stage string }
	live := map[stageKey][]telemetry.InstanceRef{}
	for _, c := range m.instances {
		for _, in := range c.Instances("") {
			switch in.State {
			case "running", "frozen", "paused":
			default:
				continue // starting, stopping, exited: not serving
			}
			name := in.Name
			if name == "" {
				name = in.ID[:min(12, len(in.ID))]
			}
			k := stageKey{in.Stack, in.Stage}
			live[k] = append(live[k], telemetry.InstanceRef{ID: in.ID, Name: strings.TrimPrefix(name, "/")})
		}
	}
	var out []telemetry.StageInstances
	for _, st := range stacks {
		for _, sg := range st.Spec.Stages {
			si := telemetry.StageInstances{Stack: st.Name, Stage: sg.Name, Instances: live[stageKey{st.Name, sg.Name}]}
			if st.Spec.Architecture == core.ArchServerless {
				si.CPUs = sg.EffectiveServerless().CPU()
			} else {
				si.CPUs = sg.EffectiveScale().CPU
			}
			out = append(out, si)
		}
	}
	return out, nil
}
