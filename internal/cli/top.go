package cli

import (
	"bytes"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/internal/client"
)

// topInterval is how often `slipway top` redraws.
const topInterval = 2 * time.Second

func topCmd(g *globals) *cobra.Command {
	var once bool
	cmd := &cobra.Command{
		Use:   "top [stack]",
		Short: "Show every stage's requests/s, p99 latency, errors, CPU and instances, refreshed every 2s (Ctrl-C quits)",
		Long: `Show every stage's current figures (one stack's if given), over the metrics
store's last closed 10 s period: requests per second, p99 latency, 5xx errors
per second and as a share of requests, CPU and instances. The table is redrawn
every 2 seconds until Ctrl-C; --once prints it once, -o json one snapshot.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stack := ""
			if len(args) == 1 {
				stack = args[0]
			}
			asJSON, err := g.json()
			if err != nil {
				return err
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			snap, err := c.Top(ctx, stack)
			if err != nil {
				return err
			}
			if asJSON {
				return g.printJSON(snap)
			}
			if once {
				return topTable(g.stdout, snap)
			}
			t := time.NewTicker(topInterval)
			defer t.Stop()
			for {
				// Draw off screen, then home the cursor, clear and paint at
				// once, so the table does not flicker.
				var buf bytes.Buffer
				buf.WriteString("\033[H\033[2J")
				fmt.Fprintf(&buf, "slipway top — %s — every %s, Ctrl-C to quit\n\n", snap.Time.Local().Format("15:04:05"), topInterval)
				topTable(&buf, snap)
				g.stdout.Write(buf.Bytes())
				select {
				case <-ctx.Done():
					return nil
				case <-t.C:
				}
				next, err := c.Top(ctx, stack)
				if ctx.Err() != nil {
					return nil
				}
				if err != nil {
					return err
				}
				snap = next
			}
		},
	}
	cmd.Flags().BoolVar(&once, "once", false, "print the table once and exit")
	addOutput(cmd, g)
	return cmd
}

func topTable(w io.Writer, snap client.Top) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STACK\tSTAGE\tREQ/S\tP99 MS\t5XX/S\t5XX %\tCPU %\tINSTANCES\t")
	for _, f := range snap.Stages {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", f.Stack, f.Stage, figure(&f.RequestsPerS, 1), figure(f.P99MS, 1),
			figure(&f.ErrorsPerS, 1), figure(&f.ErrorPercent, 1), figure(f.CPUPercent, 1), figure(f.Instances, 0))
	}
	if len(snap.Stages) == 0 {
		fmt.Fprintln(tw, "(no stages)\t\t\t\t\t\t\t\t")
	}
	return tw.Flush()
}

// figure prints a value with prec decimals, "-" for none.
func figure(v *float64, prec int) string {
	if v == nil {
		return "-"
	}
	return strconv.FormatFloat(*v, 'f', prec, 64)
}
