package cli

import (
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/internal/client"
)

func scaleCmd(g *globals) *cobra.Command {
	var minN, maxN, target int
	cmd := &cobra.Command{
		Use:   "scale <stack> <stage> [--min N] [--max N] [--cpu-target PCT]",
		Short: "Change a stage's instance bounds or CPU target without a build",
		Args:  exactArgs(2, "scale needs the stack and stage, e.g. `slipway scale hello dev --min 2`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			var ch client.ScaleChange
			if cmd.Flags().Changed("min") {
				ch.Min = &minN
			}
			if cmd.Flags().Changed("max") {
				ch.Max = &maxN
			}
			if cmd.Flags().Changed("cpu-target") {
				ch.CPUTarget = &target
			}
			if ch.Min == nil && ch.Max == nil && ch.CPUTarget == nil {
				return fmt.Errorf("nothing to change: give --min, --max or --cpu-target")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			spec, err := c.Scale(cmd.Context(), args[0], args[1], ch)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "%s/%s: min %d, max %d, cpu_target %d%%\n", args[0], args[1], spec.Min, spec.Max, spec.CPUTarget)
			return nil
		},
	}
	cmd.Flags().IntVar(&minN, "min", 0, "fewest instances")
	cmd.Flags().IntVar(&maxN, "max", 0, "most instances")
	cmd.Flags().IntVar(&target, "cpu-target", 0, "average CPU percent the autoscaler tracks")
	return cmd
}

func eventsCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "events <stack> <stage>",
		Short: "Show a stage's events: scaling decisions with their inputs, rollouts, crashes",
		Args:  exactArgs(2, "events needs the stack and stage, e.g. `slipway events hello dev`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return read(g, cmd, func(c *client.Client) ([]client.StageEvent, error) {
				return c.Events(cmd.Context(), args[0], args[1], limit)
			}, func(evs []client.StageEvent) error {
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME\tTYPE\tMESSAGE")
				for i := len(evs) - 1; i >= 0; i-- {
					e := evs[i]
					fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Time.Local().Format("15:04:05"), e.Type, e.Message)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().IntVarP(&limit, "limit", "n", 50, "how many of the newest events")
	addOutput(cmd, g)
	return cmd
}

func abortCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "abort <stack> <stage>",
		Short: "Stop a rollout in progress; the previous release keeps serving",
		Args:  exactArgs(2, "abort needs the stack and stage, e.g. `slipway abort hello dev`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			rel, err := c.Abort(cmd.Context(), args[0], args[1])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Aborted the rollout of %s to %s/%s\n", rel, args[0], args[1])
			return nil
		},
	}
}

func execCmd(g *globals) *cobra.Command {
	var instance string
	cmd := &cobra.Command{
		Use:   "exec <stack> <stage> [--instance id] -- CMD [ARGS...]",
		Short: "Run a command in a running instance, like ECS Exec; exits with its exit code",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 3 {
				return fmt.Errorf("exec needs the stack, the stage and a command, e.g. `slipway exec hello dev -- ls /`")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			code, err := c.Exec(cmd.Context(), args[0], args[1], instance, args[2:], g.stdout, g.stderr)
			if err != nil {
				return err
			}
			if code != 0 {
				os.Exit(code)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&instance, "instance", "", "instance name or ID prefix (default: a healthy one)")
	return cmd
}

func rollbackCmd(g *globals) *cobra.Command {
	var to string
	cmd := &cobra.Command{
		Use:   "rollback <stack> <stage> [--to rN]",
		Short: "Roll a stage back to an earlier release's image and config, at once, without a build",
		Args:  exactArgs(2, "rollback needs the stack and stage, e.g. `slipway rollback hello prod`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			done, took, err := follow(g, func(c *client.Client, fn func(client.Event)) (client.Event, error) {
				return c.Rollback(cmd.Context(), args[0], args[1], to, fn)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Rolled back %s/%s in %.1fs: %s\n", args[0], args[1], took.Seconds(), done.Message)
			return nil
		},
	}
	cmd.Flags().StringVar(&to, "to", "", "release to restore (default: the one before the current)")
	return cmd
}

func stackCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "stack", Short: "Manage stacks"}
	var repo client.RepoOptions
	create := &cobra.Command{
		Use:   "create <name> [--repo-url URL [--branch main] [--poll 1m]]",
		Short: "Create a stack with its git remote, or one that builds from an external repository",
		Args:  exactArgs(1, "stack create needs the stack name, e.g. `slipway stack create hello`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			st, err := c.CreateStackFromRepo(cmd.Context(), args[0], repo)
			if err != nil {
				return err
			}
			if st.RepoURL != "" {
				fmt.Fprintf(g.stdout, "Created stack %s, building branch %s of %s.\n", st.Name, st.Branch, st.RepoURL)
				fmt.Fprintf(g.stdout, "Webhook (GitHub: content type application/json, push events; GitLab: push events):\n  URL:    %s%s\n  secret: %s\n(the secret is shown only now)\n", c.URL(), st.WebhookPath, st.WebhookSecret)
				return nil
			}
			fmt.Fprintf(g.stdout, "Created stack %s. Deploy with `slipway deploy`, or push to its git remote (password: your token):\n", st.Name)
			fmt.Fprintf(g.stdout, "  git remote add slipway %s\n  git push slipway main\n", c.GitRemote(st.Name))
			return nil
		},
	}
	create.Flags().StringVar(&repo.URL, "repo-url", "", "build from this git repository instead (by webhook, or --poll)")
	create.Flags().StringVar(&repo.Branch, "branch", "", "the repository's branch to build (default main)")
	create.Flags().StringVar(&repo.Poll, "poll", "", "also fetch the repository this often, e.g. 1m (for hosts that cannot send webhooks)")
	cmd.AddCommand(create)
	return cmd
}

func approveCmd(g *globals) *cobra.Command {
	var build string
	cmd := &cobra.Command{
		Use:   "approve <stack> <stage> [--build bN]",
		Short: "Release the build awaiting approval at a stage (and promote it on)",
		Args:  exactArgs(2, "approve needs the stack and stage, e.g. `slipway approve hello prod`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			done, took, err := follow(g, func(c *client.Client, fn func(client.Event)) (client.Event, error) {
				expect := build
				if expect == "" {
					// Approve what is waiting now, and only that: a newer
					// build arriving meanwhile is refused, not shipped.
					st, err := c.Stack(cmd.Context(), args[0])
					if err != nil {
						return client.Event{}, err
					}
					for _, stage := range st.Stages {
						if stage.Name == args[1] {
							expect = stage.Awaiting
						}
					}
					if expect != "" {
						fmt.Fprintf(g.stderr, "approving build %s for %s\n", expect, args[1])
					}
				}
				return c.Approve(cmd.Context(), args[0], args[1], expect, fn)
			})
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Approved in %.1fs: %s\n", took.Seconds(), done.Message)
			return nil
		},
	}
	cmd.Flags().StringVar(&build, "build", "", "the build to approve (default: the one awaiting now)")
	return cmd
}

func usageCmd(g *globals) *cobra.Command {
	var since time.Duration
	cmd := &cobra.Command{
		Use:   "usage <stack> <stage>",
		Short: "Show a serverless stage's metered usage: requests, GB-seconds, cold starts, throttles, duration",
		Args:  exactArgs(2, "usage needs the stack and stage, e.g. `slipway usage hello dev --since 24h`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return read(g, cmd, func(c *client.Client) (client.Usage, error) {
				return c.Usage(cmd.Context(), args[0], args[1], since)
			}, func(u client.Usage) error {
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintf(tw, "Usage of %s/%s over the last %s\n", u.Stack, u.Stage, since)
				fmt.Fprintf(tw, "requests\t%d\n", u.Requests)
				fmt.Fprintf(tw, "billed duration\t%d ms\n", u.BilledMS)
				fmt.Fprintf(tw, "GB-seconds\t%.4f\n", u.GBSeconds)
				fmt.Fprintf(tw, "cold starts\t%d (init %d ms in all)\n", u.ColdStarts, u.InitMS)
				fmt.Fprintf(tw, "throttles\t%d\n", u.Throttles)
				fmt.Fprintf(tw, "errors (5xx)\t%d, of which timeouts %d\n", u.Errors, u.Timeouts)
				fmt.Fprintf(tw, "duration\tp50 %.1f ms, p99 %.1f ms, max %.1f ms\n", u.P50MS, u.P99MS, u.MaxMS)
				return tw.Flush()
			})
		},
	}
	cmd.Flags().DurationVar(&since, "since", 24*time.Hour, "the window, back from now (1m to 2160h)")
	addOutput(cmd, g)
	return cmd
}

func invokeCmd(g *globals) *cobra.Command {
	var eventFile string
	cmd := &cobra.Command{
		Use:   "invoke <stack> <stage>",
		Short: "Invoke a lambda stage directly with an event (JSON) and print the function's response",
		Args:  exactArgs(2, "invoke needs the stack and stage, e.g. `slipway invoke hello dev --event event.json`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			event := []byte("{}")
			if eventFile != "" {
				var err error
				if eventFile == "-" {
					event, err = io.ReadAll(cmd.InOrStdin())
				} else {
					event, err = os.ReadFile(eventFile)
				}
				if err != nil {
					return fmt.Errorf("read the event: %w", err)
				}
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			out, err := c.Invoke(cmd.Context(), args[0], args[1], event)
			if err != nil {
				return err
			}
			g.stdout.Write(out)
			if len(out) > 0 && out[len(out)-1] != '\n' {
				fmt.Fprintln(g.stdout)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&eventFile, "event", "", "a file holding the event as JSON (- for stdin; default {})")
	return cmd
}
