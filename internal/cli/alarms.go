package cli

import (
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/internal/client"
)

func alarmsCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alarms",
		Short: "Alarms on stage metrics (and the built-in ones on failed builds, failed releases and crash loops), with webhook notifications",
		Long: `Alarms watch a stage's metric and notify webhooks (a JSON POST, retried with
backoff) when they go into or out of ALARM. A metric alarm is ALARM when its
metric breaches the threshold in each of the last --for periods that have data,
INSUFFICIENT_DATA when none has data, and OK otherwise. Every stack also has
built-in alarms: build-failed, release-failed-<stage> and crash-loop-<stage>;
they notify the server's --alarm-webhook and the stack's webhooks
(slipway alarms notify).`,
	}
	cmd.AddCommand(alarmsCreateCmd(g), alarmsListCmd(g), alarmsHistoryCmd(g), alarmsDeleteCmd(g), alarmsNotifyCmd(g))
	return cmd
}

func alarmsCreateCmd(g *globals) *cobra.Command {
	var spec client.AlarmSpec
	var above, below float64
	cmd := &cobra.Command{
		Use:   "create <stack> <stage> --metric M (--above N | --below N) [--for 3] [--period 1m] [--notify URL]... [--name N]",
		Short: "Create a metric alarm on a stage",
		Example: `  slipway alarms create hello prod --metric p99_latency_ms --above 500 --for 3 --period 1m --notify https://hooks.example.com/slipway
  slipway alarms create hello prod --metric instances --below 1 --period 10s`,
		Args: exactArgs(2, "alarms create needs the stack and stage, e.g. `slipway alarms create hello prod --metric p99_latency_ms --above 500`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			f := cmd.Flags()
			switch {
			case f.Changed("above") && f.Changed("below"):
				return fmt.Errorf("give either --above or --below, not both")
			case f.Changed("above"):
				spec.Comparison, spec.Threshold = "above", above
			case f.Changed("below"):
				spec.Comparison, spec.Threshold = "below", below
			default:
				return fmt.Errorf("alarms create needs a threshold: --above N or --below N")
			}
			if spec.Metric == "" {
				return fmt.Errorf("alarms create needs --metric, e.g. --metric p99_latency_ms (see `slipway alarms create --help`)")
			}
			spec.Stage = args[1]
			c, err := g.client()
			if err != nil {
				return err
			}
			a, err := c.CreateAlarm(cmd.Context(), args[0], spec)
			if err != nil {
				return err
			}
			if asJSON, _ := g.json(); asJSON {
				return g.printJSON(a)
			}
			fmt.Fprintf(g.stdout, "Created alarm %s (%s) on %s/%s: %s.\n", a.Name, a.ID, a.Stack, a.Stage, alarmCondition(a))
			if len(a.Notify) > 0 {
				fmt.Fprintf(g.stdout, "It notifies %s when it goes into or out of ALARM.\n", strings.Join(a.Notify, ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&spec.Metric, "metric", "", "the stage metric: requests, errors, status_5xx, p50_latency_ms, p90_latency_ms, p99_latency_ms, cpu_percent, memory_mb, instances, cold_starts, concurrency, throttles, …")
	f.Float64Var(&above, "above", 0, "ALARM when the metric is above this")
	f.Float64Var(&below, "below", 0, "ALARM when the metric is below this")
	f.IntVar(&spec.For, "for", 1, "evaluation periods: ALARM after this many breaching periods in a row (1-100)")
	f.StringVar(&spec.Period, "period", "1m", "the period each datapoint aggregates: 10s to 1d, a multiple of 10s")
	f.StringArrayVar(&spec.Notify, "notify", nil, "webhook URL to POST state changes to (repeatable, up to 5)")
	f.StringVar(&spec.Name, "name", "", "alarm name (default <stage>-<metric>-<above|below>-<threshold>)")
	addOutput(cmd, g)
	return cmd
}

func alarmsListCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "list [stack]",
		Short: "List alarms (metric and built-in) with their state",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stack := ""
			if len(args) == 1 {
				stack = args[0]
			}
			return read(g, cmd, func(c *client.Client) ([]client.Alarm, error) {
				return c.Alarms(cmd.Context(), stack)
			}, func(list []client.Alarm) error {
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "STACK\tSTAGE\tID\tNAME\tSTATE\tCONDITION\tSINCE\tNOTIFY\tREASON")
				for _, a := range list {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", a.Stack, dashIfEmpty(a.Stage), a.ID, a.Name, a.Status.State, alarmCondition(a),
						ago(a.Status.Since), dashIfEmpty(strings.Join(a.Notify, ",")), clipRunes(a.Status.Reason, 80))
				}
				return tw.Flush()
			})
		},
	}
	addOutput(cmd, g)
	return cmd
}

func alarmsHistoryCmd(g *globals) *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:   "history <stack> [alarm]",
		Short: "Show a stack's alarm history (or one alarm's): state changes and webhook deliveries",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return fmt.Errorf("alarms history needs the stack and optionally an alarm, e.g. `slipway alarms history hello a1`")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			alarm := ""
			if len(args) == 2 {
				alarm = args[1]
			}
			if limit < 1 || limit > 1000 {
				return fmt.Errorf("invalid --limit %d: use 1 to 1000", limit)
			}
			return read(g, cmd, func(c *client.Client) ([]client.AlarmEvent, error) {
				return c.AlarmHistory(cmd.Context(), args[0], alarm, limit)
			}, func(evs []client.AlarmEvent) error {
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "TIME\tALARM\tEVENT\tDETAIL")
				for i := len(evs) - 1; i >= 0; i-- {
					ev := evs[i]
					kind, detail := "state", fmt.Sprintf("%s → %s: %s", ev.From, ev.To, ev.Reason)
					if ev.Type == client.AlarmDelivery {
						kind = "webhook"
						detail = fmt.Sprintf("%s to %s: delivered (HTTP %d) after %d attempt(s)", ev.To, ev.URL, ev.HTTP, ev.Attempts)
						if !ev.Delivered {
							detail = fmt.Sprintf("%s to %s: NOT delivered after %d attempt(s): %s", ev.To, ev.URL, ev.Attempts, ev.Error)
						}
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ev.Time.Local().Format("2006-01-02 15:04:05"), ev.Name, kind, detail)
				}
				return tw.Flush()
			})
		},
	}
	cmd.Flags().IntVar(&limit, "limit", 100, "at most this many entries, the newest")
	addOutput(cmd, g)
	return cmd
}

func alarmsDeleteCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "delete <stack> <alarm>",
		Short: "Delete a metric alarm (by ID or name) with its history",
		Args:  exactArgs(2, "alarms delete needs the stack and the alarm's ID or name, e.g. `slipway alarms delete hello a1`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DeleteAlarm(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Deleted alarm %s of %s.\n", args[1], args[0])
			return nil
		},
	}
}

func alarmsNotifyCmd(g *globals) *cobra.Command {
	var clear bool
	cmd := &cobra.Command{
		Use:   "notify <stack> <webhook-url>... | notify <stack> --clear",
		Short: "Set the webhooks a stack's built-in alarms (failed builds and releases, crash loops) notify, besides the server's --alarm-webhook",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || (len(args) == 1) != clear {
				return fmt.Errorf("alarms notify needs the stack and either webhook URLs or --clear, e.g. `slipway alarms notify hello https://hooks.example.com/x`")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			urls, err := c.SetAlarmWebhooks(cmd.Context(), args[0], args[1:])
			if err != nil {
				return err
			}
			if len(urls) == 0 {
				fmt.Fprintf(g.stdout, "The built-in alarms of %s notify only the server's default webhook (if any).\n", args[0])
				return nil
			}
			fmt.Fprintf(g.stdout, "The built-in alarms of %s notify %s.\n", args[0], strings.Join(urls, ", "))
			return nil
		},
	}
	cmd.Flags().BoolVar(&clear, "clear", false, "remove the stack's webhooks")
	return cmd
}

// alarmCondition describes what an alarm watches, e.g. "p99_latency_ms > 500
// for 3 × 1m".
func alarmCondition(a client.Alarm) string {
	if a.BuiltIn() {
		return strings.ReplaceAll(string(a.Kind), "-", " ") + " (built-in)"
	}
	op := ">"
	if a.Comparison == "below" {
		op = "<"
	}
	return fmt.Sprintf("%s %s %s for %d × %s", a.Metric, op, strconv.FormatFloat(a.Threshold, 'f', -1, 64), a.For, periodLabel(a.Period.D()))
}

func periodLabel(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", d/(24*time.Hour))
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clipRunes(s string, n int) string {
	if len([]rune(s)) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}
