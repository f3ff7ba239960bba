package cli

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/internal/client"
)

func costCmd(g *globals) *cobra.Command {
	var q client.CostQuery
	var compare, tables bool
	var plot string
	cmd := &cobra.Command{
		Use:   "cost [<stack> [<stage>]]",
		Short: "Estimate what a stage costs a month on AWS, compare architectures and endpoints, or plot cost against traffic",
		Long: `Estimate a stage's monthly cost on AWS (us-east-1 price tables), line by line with
the arithmetic, for a traffic profile: figures given as flags, or the stage's
metered usage over a window (--from-usage 24h) extrapolated to 30 days.

  slipway cost shop dev --requests 10M --duration 120ms   line items and total
  slipway cost shop                                       every stage's total
  slipway cost shop --compare                             the four architecture × endpoint options, crossovers, advice
  slipway cost shop --plot cost.svg                       cost against requests/month (100k to 1B), four lines
  slipway cost --plot cost.svg                            the same for a default container stage

Figures left out default to 1M requests/month, 100 ms mean duration, 1 KB
requests and 10 KB responses; concurrency and connection rates are derived
from requests and duration (the estimate's assumptions say how).`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			stack, stage := "", ""
			if len(args) > 0 {
				stack = args[0]
			}
			if len(args) > 1 {
				stage = args[1]
			}
			if tables {
				return read(g, cmd, func(c *client.Client) ([]client.CostTable, error) { return c.CostTables(cmd.Context()) },
					func(ts []client.CostTable) error {
						tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
						fmt.Fprintln(tw, "TABLE\tREGION\tAS OF\t")
						for _, t := range ts {
							def := ""
							if t.Default {
								def = "default"
							}
							fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.Name, t.Region, t.Date, def)
						}
						return tw.Flush()
					})
			}
			if compare && plot != "" {
				return fmt.Errorf("give --compare or --plot, not both")
			}
			if stack == "" && plot == "" {
				return fmt.Errorf("cost needs a stack (and a stage), e.g. `slipway cost shop dev --requests 10M`; only --plot works without one")
			}
			if q.FromUsage != "" && stack == "" {
				return fmt.Errorf("--from-usage needs a stack and stage: it reads that stage's metered usage")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			switch {
			case plot != "":
				q.Stage = stage
				svg, err := c.CostPlot(ctx, stack, q)
				if err != nil {
					return err
				}
				if err := os.WriteFile(plot, svg, 0o644); err != nil {
					return fmt.Errorf("write the plot: %w", err)
				}
				fmt.Fprintf(g.stderr, "Wrote %s (%d bytes): monthly cost against requests/month for the four architecture × endpoint options\n", plot, len(svg))
				return nil
			case compare:
				q.Stage = stage
				cmp, err := c.CompareCost(ctx, stack, q)
				if err != nil {
					return err
				}
				if asJSON {
					return g.printJSON(cmp)
				}
				return printComparison(g.stdout, cmp)
			case stage == "":
				return stackCost(ctx, g, c, stack, q, asJSON)
			}
			est, err := c.StageCost(ctx, stack, stage, q)
			if err != nil {
				return err
			}
			if asJSON {
				return g.printJSON(est)
			}
			return printStageCost(g.stdout, est)
		},
	}
	f := cmd.Flags()
	f.StringVar(&q.Requests, "requests", "", "requests a month, e.g. 10M, 1.5k, 2B (default 1M)")
	f.StringVar(&q.Duration, "duration", "", "mean request duration, e.g. 120ms, 1.2s (default 100ms)")
	f.StringVar(&q.RequestBytes, "request-bytes", "", "mean request size, e.g. 512, 4KB (default 1KB)")
	f.StringVar(&q.ResponseBytes, "response-bytes", "", "mean response size (default 10KB)")
	f.StringVar(&q.PeakConcurrency, "peak-concurrency", "", "requests in flight at the peak (default: derived)")
	f.StringVar(&q.NewConnections, "new-connections", "", "new connections per second (default: derived)")
	f.StringVar(&q.ActiveConnections, "active-connections", "", "active connections per minute (default: derived)")
	f.StringVar(&q.Table, "table", "", "price table, e.g. us-east-1-2021-07 (default: the current one)")
	f.StringVar(&q.FromUsage, "from-usage", "", "use the stage's metered usage over this window (e.g. 24h), extrapolated to 30 days, instead of figures")
	f.BoolVar(&compare, "compare", false, "price the four architecture × endpoint options and show where they cross")
	f.StringVar(&plot, "plot", "", "write an SVG chart of monthly cost against requests/month to this file")
	f.BoolVar(&tables, "tables", false, "list the price tables")
	addOutput(cmd, g)
	return cmd
}

// stackCost prints every stage's total (one line each) and the sum.
func stackCost(ctx context.Context, g *globals, c *client.Client, stack string, q client.CostQuery, asJSON bool) error {
	st, err := c.Stack(ctx, stack)
	if err != nil {
		return err
	}
	var all []client.StageCost
	for _, sg := range st.Stages {
		est, err := c.StageCost(ctx, stack, sg.Name, q)
		if err != nil {
			return err
		}
		all = append(all, est)
	}
	if asJSON {
		return g.printJSON(all)
	}
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STAGE\tARCHITECTURE\tENDPOINT\tREQUESTS/MONTH\tCOST/MONTH")
	total := 0.0
	for _, e := range all {
		s := e.Estimate.Stage
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Stage, s.Architecture, s.Endpoint, count(e.Estimate.Profile.RequestsPerMonth), money(e.Estimate.Total))
		total += e.Estimate.Total
	}
	fmt.Fprintf(tw, "TOTAL\t\t\t\t%s\n", money(total))
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(all) > 0 {
		fmt.Fprintf(g.stdout, "Prices: %s. %s\n", all[0].Estimate.Table, strings.Join(all[0].Notes, "; "))
	}
	return nil
}

func printStageCost(w io.Writer, e client.StageCost) error {
	s, p := e.Estimate.Stage, e.Estimate.Profile
	fmt.Fprintf(w, "Stage %s of %s: %s\n", e.Stage, e.Stack, describeStage(s))
	fmt.Fprintf(w, "Prices: %s. Traffic: %s requests/month, %s ms mean", e.Estimate.Table, count(p.RequestsPerMonth), num(p.DurationMS))
	if e.Source == "usage" {
		fmt.Fprintf(w, " (metered over the last %s, extrapolated to 30 days)", e.Window)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SERVICE\tITEM\tCOST/MONTH\tARITHMETIC")
	for _, it := range e.Estimate.Items {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", it.Service, it.Item, money(it.Cost), it.Arithmetic)
	}
	fmt.Fprintf(tw, "TOTAL\t\t%s\t\n", money(e.Estimate.Total))
	if err := tw.Flush(); err != nil {
		return err
	}
	bullets(w, "Profile", e.Notes)
	bullets(w, "Assumptions", e.Estimate.Assumptions)
	return nil
}

func printComparison(w io.Writer, c client.StageComparison) error {
	p := c.Profile
	fmt.Fprintf(w, "Stage %s of %s at %s requests/month, %s ms mean (prices: %s)\n\n", c.Stage, c.Stack, count(p.RequestsPerMonth), num(p.DurationMS), c.Table)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ARCHITECTURE\tENDPOINT\tCOST/MONTH\t")
	for i, o := range c.Comparison.Options {
		mark := ""
		if i == 0 {
			mark = "cheapest"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", o.Architecture, o.Endpoint, money(o.Estimate.Total), mark)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(w, "\nCrossovers (where two options cost the same, other figures scaled with requests):")
	for _, x := range c.Comparison.Crossovers {
		if x.RequestsPerMonth > 0 {
			fmt.Fprintf(w, "  %s = %s at %s requests/month\n", x.A, x.B, count(x.RequestsPerMonth))
		} else {
			fmt.Fprintf(w, "  %s and %s: never within range\n", x.A, x.B)
		}
	}
	fmt.Fprintf(w, "\nRecommendation: %s\n", c.Comparison.Recommendation)
	bullets(w, "Profile", c.Notes)
	return nil
}

func bullets(w io.Writer, title string, lines []string) {
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(w, "\n%s:\n", title)
	for _, l := range lines {
		fmt.Fprintf(w, "  - %s\n", l)
	}
}

func describeStage(s client.CostStage) string {
	if s.Architecture == "serverless" {
		out := fmt.Sprintf("serverless + %s, %d MB, timeout %s ms", s.Endpoint, s.MemoryMB, num(float64(s.TimeoutMS)))
		if s.MinInstances > 0 {
			out += fmt.Sprintf(", %d provisioned", s.MinInstances)
		}
		return out
	}
	return fmt.Sprintf("container + %s, %s vCPU, %d MB, %d to %d instances", s.Endpoint, num(s.CPU), s.MemoryMB, s.MinInstances, s.MaxInstances)
}

// deployEstimate prints, before a deploy, what each stage of the config
// would cost a month under the default profile: a few lines, never an
// error (a deploy does not depend on it).
func deployEstimate(ctx context.Context, w io.Writer, c *client.Client, spec client.StackSpec) {
	est, err := c.EstimateConfig(ctx, spec, client.CostQuery{})
	if err != nil {
		fmt.Fprintf(w, "==> No cost estimate: %v\n", err)
		return
	}
	fmt.Fprintf(w, "==> Estimated AWS cost (%s, assuming %s requests/month at %s ms; see `slipway cost`):\n",
		est.Table, count(est.Profile.RequestsPerMonth), num(est.Profile.DurationMS))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, s := range est.Stages {
		fmt.Fprintf(tw, "    %s\t%s + %s\t%s/month\n", s.Stage, s.Estimate.Stage.Architecture, s.Estimate.Stage.Endpoint, money(s.Estimate.Total))
	}
	fmt.Fprintf(tw, "    total\t\t%s/month\n", money(est.Total))
	tw.Flush()
}

// money prints dollars with cents and thousands separators: $1,234.50.
func money(v float64) string {
	s := fmt.Sprintf("%.2f", math.Abs(v))
	whole, cents, _ := strings.Cut(s, ".")
	var b strings.Builder
	if v < 0 {
		b.WriteByte('-')
	}
	b.WriteByte('$')
	for i := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteByte(whole[i])
	}
	return b.String() + "." + cents
}

// count prints a volume briefly, to about three significant figures:
// 950, 1.5k, 18M, 48.2M, 2B.
func count(v float64) string {
	short := func(x float64) string {
		switch a := math.Abs(x); {
		case a >= 100:
			return fmt.Sprintf("%.0f", x)
		case a >= 10:
			return num(math.Round(x*10) / 10)
		}
		return num(math.Round(x*100) / 100)
	}
	switch a := math.Abs(v); {
	case a >= 1e9:
		return short(v/1e9) + "B"
	case a >= 1e6:
		return short(v/1e6) + "M"
	case a >= 1e3:
		return short(v/1e3) + "k"
	}
	return short(v)
}

// num prints a figure with up to 3 decimals, no trailing zeros.
func num(v float64) string {
	s := strings.TrimRight(fmt.Sprintf("%.3f", v), "0")
	return strings.TrimSuffix(s, ".")
}
