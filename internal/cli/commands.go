package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/internal/client"
)

func initCmd(g *globals) *cobra.Command {
	var template, dir string
	cmd := &cobra.Command{
		Use:   "init <name>",
		Short: "Scaffold a new stack from a starter template",
		Args:  exactArgs(1, "init needs the stack name, e.g. `slipway init hello`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if dir == "" {
				dir = name
			}
			files, err := client.Init(dir, name, template)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Created stack %s in %s from template %s:\n", name, dir, template)
			for _, f := range files {
				fmt.Fprintln(g.stdout, "  "+filepath.ToSlash(f))
			}
			fmt.Fprintf(g.stdout, "Next: cd %s && slipway deploy\n", dir)
			return nil
		},
	}
	cmd.Flags().StringVarP(&template, "template", "t", "go-crud", "starter template: "+strings.Join(client.Templates(), ", "))
	cmd.Flags().StringVar(&dir, "dir", "", "directory to create (default: the name)")
	return cmd
}

func deployCmd(g *globals) *cobra.Command {
	var stack string
	var quiet bool
	cmd := &cobra.Command{
		Use:   "deploy [dir]",
		Short: "Build a directory and release it to the stack's first stage; prints the URL",
		Long: `Build the directory (default: the current one), push the image to the embedded
registry, and release it to the stack's first stage. Progress goes to stderr and
the stage's URL to stdout. Whatever was serving keeps serving if anything fails.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "."
			if len(args) == 1 {
				dir = args[0]
			}
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return fmt.Errorf("%s is not a directory: deploy a directory holding a Dockerfile (and slipway.yml)", dir)
			}
			dockerfile := ""
			var spec *client.StackSpec
			if stack == "" {
				s, err := client.ReadManifest(dir)
				if err != nil {
					return err
				}
				stack, dockerfile, spec = s.Name, s.Build.Dockerfile, &s
			} else if s, err := client.ReadManifest(dir); err == nil && s.Name == stack {
				spec = &s
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if spec != nil && !quiet {
				deployEstimate(cmd.Context(), g.stderr, c, *spec)
			}
			p := &progress{w: g.stderr, quiet: quiet, start: time.Now()}
			done, err := c.Deploy(cmd.Context(), dir, stack, dockerfile, p.event)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stderr, "Deployed %s in %.1fs: release %s serves stage %s\n", stack, time.Since(p.start).Seconds(), done.Release, done.Stage)
			fmt.Fprintln(g.stdout, done.URL)
			return nil
		},
	}
	cmd.Flags().StringVar(&stack, "stack", "", "stack name (default: name in slipway.yml)")
	cmd.Flags().BoolVarP(&quiet, "quiet", "q", false, "show steps only, not their output nor the cost estimate")
	return cmd
}

// progress prints deploy events: steps as "==> step", output indented.
type progress struct {
	w     interface{ Write([]byte) (int, error) }
	quiet bool
	start time.Time
}

func (p *progress) event(ev client.Event) {
	switch ev.Type {
	case client.EventStep:
		fmt.Fprintf(p.w, "==> [%5.1fs] %s\n", time.Since(p.start).Seconds(), ev.Message)
	case client.EventLog:
		if !p.quiet {
			fmt.Fprintf(p.w, "    %s\n", ev.Message)
		}
	}
}

func statusCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "status [stack]",
		Short: "Show stacks, or one stack's stages, releases and instances",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			if len(args) == 0 {
				list, err := c.ListStacks(cmd.Context())
				if err != nil {
					return err
				}
				if asJSON {
					return g.printJSON(list)
				}
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "STACK\tSTAGE\tSTATUS\tRELEASE\tINSTANCES\tURL")
				for _, s := range list {
					for _, st := range s.Stages {
						status := st.Status
						if st.Awaiting != "" {
							status += " (" + st.Awaiting + " awaits approval)"
						}
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.Name, st.Name, status, releaseID(st), healthyCount(st), st.URL)
					}
				}
				return tw.Flush()
			}
			s, err := c.Stack(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return g.printJSON(s)
			}
			printStack(g, s)
			return nil
		},
	}
	addOutput(cmd, g)
	return cmd
}

func printStack(g *globals, s client.StackStatus) {
	fmt.Fprintf(g.stdout, "Stack %s (%s)\n", s.Name, s.Architecture)
	if b := s.LastBuild; b != nil {
		fmt.Fprintf(g.stdout, "Last build: %s %s %s\n", b.ID, b.Status, ago(b.StartedAt))
		if b.Error != "" {
			fmt.Fprintf(g.stdout, "  %s\n", b.Error)
		}
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nSTAGE\tSTATUS\tRELEASE\tBUILD\tINSTANCES\tURL")
	for _, st := range s.Stages {
		build := "-"
		if st.Release != nil {
			build = st.Release.Build
		}
		status := st.Status
		if st.RollingOut != "" {
			status += " (" + st.RollingOut + ")"
		}
		if st.Awaiting != "" {
			status += ", " + st.Awaiting + " awaits approval"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s of %d\t%s\n", st.Name, status, releaseID(st), build, healthyCount(st), st.Desired, st.URL)
	}
	tw.Flush()
	for _, st := range s.Stages {
		if fn := st.Serverless; fn != nil {
			fmt.Fprintf(g.stdout, "%s: %s handler, %d MB, timeout %s, concurrency %d, instances %d-%d, idle %s, freeze %v\n",
				st.Name, fn.Handler, fn.MemoryMB, fn.Timeout, fn.Concurrency, fn.MinInstances, fn.MaxInstances, fn.Idle, fn.Freeze)
		}
	}
	for _, st := range s.Stages {
		if cr := st.Crash; cr != nil {
			why := fmt.Sprintf("exited with code %d", cr.ExitCode)
			if cr.OOM {
				why = "was killed for running out of memory (OOM)"
			}
			fmt.Fprintf(g.stdout, "\n%s: instance %s %s (%d crash(es) in a row, %s); its last lines:\n", st.Name, cr.Instance, why, cr.Crashes, ago(cr.Time))
			for _, l := range cr.Logs {
				fmt.Fprintln(g.stdout, "  | "+l)
			}
		}
	}
	tw = tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nINSTANCE\tSTAGE\tRELEASE\tSTATE\tHEALTHY\tCPU\tADDRESS")
	for _, st := range s.Stages {
		for _, in := range st.Instances {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%.0f%%\t%s\n", in.Name, in.Stage, in.Release, in.State, in.Healthy, in.CPU, in.Addr)
		}
	}
	tw.Flush()
}

func releaseID(st client.StageStatus) string {
	if st.Release == nil {
		return "-"
	}
	return st.Release.ID
}

func healthyCount(st client.StageStatus) string {
	n := 0
	for _, in := range st.Instances {
		if in.Healthy {
			n++
		}
	}
	return fmt.Sprintf("%d healthy", n)
}

func ago(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return time.Since(t).Round(time.Second).String() + " ago"
}

func logsCmd(g *globals) *cobra.Command {
	var opts client.LogOptions
	var build string
	cmd := &cobra.Command{
		Use:   "logs <stack> [stage] [--kind runtime|build|release|access] [--since 1h] [--grep text] [--tail N] [-f] [--build N]",
		Short: "Print a stack's stored logs: instance output (runtime), builds, releases or requests (access)",
		Long: `Print a stack's logs, kept by the server (90 days by default): runtime (the
instances' stdout and stderr, the default), build (the stack's builds), release
(release.yml and rollouts, per stage) or access (one JSON line per request; needs
a stage). Without a stage, runtime and release logs of every stage are merged by
time. --build N prints one build's log instead, live while it runs.`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fmt.Errorf("logs needs the stack name and optionally a stage, e.g. `slipway logs hello dev --kind access`")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 2 {
				if opts.Stage != "" && opts.Stage != args[1] {
					return fmt.Errorf("logs got stage %q and --stage %q; give one", args[1], opts.Stage)
				}
				opts.Stage = args[1]
			}
			switch opts.Kind {
			case "", "runtime", "build", "release", "access":
			default:
				return fmt.Errorf("invalid --kind %q: use runtime, build, release or access (one build: --build N)", opts.Kind)
			}
			for name, v := range map[string]string{"since": opts.Since, "until": opts.Until} {
				if err := checkLogTime(v); err != nil {
					return fmt.Errorf("invalid --%s %q: use a duration like 10m, 2h or 3d, or an RFC 3339 time like 2026-11-22T08:00:00Z", name, v)
				}
			}
			if opts.Tail < 0 {
				return fmt.Errorf("invalid --tail %d: give a number of lines, 0 for all", opts.Tail)
			}
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			opts.JSON = asJSON
			c, err := g.client()
			if err != nil {
				return err
			}
			if build != "" {
				return buildLog(cmd, g, c, args[0], build)
			}
			return c.Logs(cmd.Context(), args[0], opts, g.stdout)
		},
	}
	cmd.Flags().StringVar(&build, "build", "", "a build's log instead (b7 or 7): live while it runs, replayed after")
	f := cmd.Flags()
	f.StringVar(&opts.Stage, "stage", "", "only this stage (default: all)")
	f.BoolVarP(&opts.Follow, "follow", "f", false, "keep printing new entries")
	f.IntVarP(&opts.Tail, "tail", "n", 0, "only the last N entries (0: all)")
	f.StringVar(&opts.Since, "since", "", "only entries from then on: a duration back from now (10m, 2h, 3d) or an RFC 3339 time")
	f.StringVar(&opts.Until, "until", "", "only entries before then: a duration back from now or an RFC 3339 time")
	f.BoolVarP(&opts.Timestamps, "timestamps", "t", false, "runtime: prefix lines with their time, instance and stream")
	f.StringVar(&opts.Kind, "kind", "", "runtime (default), build, release or access")
	f.StringVar(&opts.Grep, "grep", "", "only entries whose text contains this (plain substring)")
	addOutput(cmd, g)
	return cmd
}

// checkLogTime is the CLI's early check of --since and --until; the
// server reads them the same way.
func checkLogTime(s string) error {
	if s == "" {
		return nil
	}
	if n, ok := strings.CutSuffix(s, "d"); ok {
		if d, err := strconv.Atoi(n); err == nil && d >= 0 {
			return nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return nil
	}
	if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return nil
	}
	return fmt.Errorf("bad time %q", s)
}

func rmCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "rm <stack>",
		Aliases: []string{"delete"},
		Short:   "Delete a stack: its instances, network, images and history",
		Args:    exactArgs(1, "rm needs the stack name, e.g. `slipway rm hello`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DeleteStack(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Deleted stack %s\n", args[0])
			return nil
		},
	}
}

func buildsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "builds <stack>",
		Short: "List a stack's builds, newest first",
		Args:  exactArgs(1, "builds needs the stack name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return read(g, cmd, func(c *client.Client) ([]client.Build, error) {
				return c.Builds(cmd.Context(), args[0])
			}, func(list []client.Build) error {
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "BUILD\tSTATUS\tSTARTED\tTRIGGER\tIMAGE\tERROR")
				for _, b := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", b.ID, b.Status, ago(b.StartedAt), b.Trigger, b.Image, b.Error)
				}
				return tw.Flush()
			})
		},
	}
	addOutput(cmd, g)
	cmd.AddCommand(&cobra.Command{
		Use:   "retry <stack> <build>",
		Short: "Run a pushed build's commit again (after an interruption, say)",
		Args:  exactArgs(2, "builds retry needs the stack and the build, e.g. `slipway builds retry hello b7`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			build := args[1]
			if !strings.HasPrefix(build, "b") {
				build = "b" + build
			}
			done, _, err := follow(g, func(c *client.Client, fn func(client.Event)) (client.Event, error) {
				return c.Retry(cmd.Context(), args[0], build, fn)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Retried %s as %s: %s\n", build, done.Build, done.Message)
			return nil
		},
	})
	return cmd
}

func releasesCmd(g *globals) *cobra.Command {
	var stage string
	cmd := &cobra.Command{
		Use:   "releases <stack>",
		Short: "List a stack's releases, newest first",
		Args:  exactArgs(1, "releases needs the stack name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return read(g, cmd, func(c *client.Client) ([]client.Release, error) {
				return c.Releases(cmd.Context(), args[0], stage)
			}, func(list []client.Release) error {
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "RELEASE\tSTAGE\tBUILD\tSTATUS\tTRIGGER\tCONFIG\tCREATED\tERROR")
				for _, r := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.Stage, r.Build, r.Status, r.Trigger, r.ConfigHash, ago(r.CreatedAt), r.Error)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().StringVar(&stage, "stage", "", "only this stage")
	addOutput(cmd, g)
	return cmd
}

func schemaCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "schema",
		Short: "Print the JSON Schema of slipway.yml (for editors)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			_, err := g.stdout.Write(client.ManifestSchema())
			return err
		},
	}
}

func versionCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the client version, and the server's if it is reachable",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintf(g.stdout, "client: %s\n", Version)
			c, err := g.client()
			if err != nil {
				return nil
			}
			if info, err := c.Info(cmd.Context()); err == nil {
				fmt.Fprintf(g.stdout, "server: %s (docker %s, API %s)\n", info.Version, info.Docker, info.DockerAPI)
			}
			return nil
		},
	}
}

// exactArgs is cobra.ExactArgs with a message that says what to type.
func exactArgs(n int, hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return fmt.Errorf("%s", hint)
		}
		return nil
	}
}

// buildLog prints a build's events with the time since its start: each
// step on its own line, its output indented.
func buildLog(cmd *cobra.Command, g *globals, c *client.Client, stack, build string) error {
	if !strings.HasPrefix(build, "b") {
		build = "b" + build
	}
	var start time.Time
	_, err := c.BuildEvents(cmd.Context(), stack, build, func(ev client.Event) {
		if start.IsZero() {
			start = ev.Time
		}
		at := fmt.Sprintf("[%6.1fs]", ev.Time.Sub(start).Seconds())
		switch ev.Type {
		case client.EventStep:
			fmt.Fprintf(g.stdout, "%s ==> %s\n", at, ev.Message)
		case client.EventLog:
			fmt.Fprintf(g.stdout, "%s     %s\n", at, ev.Message)
		case client.EventDone:
			fmt.Fprintf(g.stdout, "%s done: %s\n", at, ev.Message)
		}
	})
	return err
}
