package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/internal/client"
)

func envCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "env", Short: "Show and change a stage's variables and secrets, or a stack's build variables"}
	var build, secret bool
	// target splits "<stack> [<stage>] rest..." by --build.
	target := func(args []string) (stack, stage string, rest []string, err error) {
		if len(args) < 1 {
			return "", "", nil, fmt.Errorf("give the stack (and, without --build, the stage)")
		}
		if build {
			return args[0], "", args[1:], nil
		}
		if len(args) < 2 {
			return "", "", nil, fmt.Errorf("give the stack and the stage, e.g. `slipway env list hello dev`, or --build")
		}
		return args[0], args[1], args[2:], nil
	}
	apply := func(cmd *cobra.Command, stack, stage string, ch client.EnvChange) error {
		c, err := g.client()
		if err != nil {
			return err
		}
		if build {
			if err := c.SetBuildEnv(cmd.Context(), stack, ch); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Build variables of %s saved; the next build sees them\n", stack)
			return nil
		}
		done, _, err := follow(g, func(c *client.Client, fn func(client.Event)) (client.Event, error) {
			return c.SetEnv(cmd.Context(), stack, stage, ch, fn)
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(g.stdout, "%s/%s: %s\n", stack, stage, done.Message)
		return nil
	}
	set := &cobra.Command{
		Use:   "set <stack> [<stage>] KEY=VALUE... [--secret] [--build]",
		Short: "Set variables; the stage's serving build is released again with them (no build)",
		RunE: func(cmd *cobra.Command, args []string) error {
			stack, stage, rest, err := target(args)
			if err != nil {
				return err
			}
			ch := client.EnvChange{Set: map[string]string{}, Secret: secret}
			for _, kv := range rest {
				k, v, ok := strings.Cut(kv, "=")
				if !ok {
					return fmt.Errorf("%q is not KEY=VALUE", kv)
				}
				ch.Set[k] = v
			}
			return apply(cmd, stack, stage, ch)
		},
	}
	set.Flags().BoolVar(&secret, "secret", false, "store the values encrypted; they are never shown again")
	unset := &cobra.Command{
		Use:   "unset <stack> [<stage>] KEY... [--build]",
		Short: "Remove variables or secrets",
		RunE: func(cmd *cobra.Command, args []string) error {
			stack, stage, rest, err := target(args)
			if err != nil {
				return err
			}
			return apply(cmd, stack, stage, client.EnvChange{Unset: rest})
		},
	}
	list := &cobra.Command{
		Use:   "list <stack> [<stage>] [--build]",
		Short: "List variables (secrets masked)",
		RunE: func(cmd *cobra.Command, args []string) error {
			stack, stage, _, err := target(args)
			if err != nil {
				return err
			}
			return read(g, cmd, func(c *client.Client) ([]client.EnvVar, error) {
				return c.Env(cmd.Context(), stack, stage)
			}, func(vars []client.EnvVar) error {
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "NAME\tVALUE\tFROM")
				for _, v := range vars {
					fmt.Fprintf(tw, "%s\t%s\t%s\n", v.Name, v.Value, v.Source)
				}
				return tw.Flush()
			})
		},
	}
	addOutput(list, g)
	for _, c := range []*cobra.Command{set, unset, list} {
		c.Flags().BoolVar(&build, "build", false, "the stack's build variables instead of a stage's")
	}
	cmd.AddCommand(set, unset, list)
	return cmd
}
