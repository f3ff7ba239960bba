package cli

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/internal/client"
)

func keysCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Manage API keys of gateway stages (clients send them as x-api-key)"}
	var name, plan string
	create := &cobra.Command{
		Use:   "create <stack> <stage> --name NAME [--plan PLAN]",
		Short: "Create an API key, optionally under one of the stage's usage plans; the key is shown once",
		Args:  exactArgs(2, "keys create needs the stack and stage, e.g. `slipway keys create hello prod --name mobile`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if name == "" {
				return fmt.Errorf("keys create needs --name, e.g. --name mobile")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			k, value, err := c.CreateAPIKey(cmd.Context(), args[0], args[1], name, plan)
			if err != nil {
				return err
			}
			if asJSON, _ := g.json(); asJSON {
				return g.printJSON(map[string]any{"key": k, "value": value})
			}
			fmt.Fprintf(g.stdout, "Created key %s (%s) for %s/%s", k.ID, k.Name, k.Stack, k.Stage)
			if k.Plan != "" {
				fmt.Fprintf(g.stdout, " under usage plan %s", k.Plan)
			}
			fmt.Fprintf(g.stdout, ":\n  %s\n(shown only now; clients send it in the x-api-key header)\n", value)
			return nil
		},
	}
	create.Flags().StringVar(&name, "name", "", "a name for the key, e.g. mobile")
	create.Flags().StringVar(&plan, "plan", "", "a usage plan of the stage (from slipway.yml)")
	addOutput(create, g)
	var stage string
	list := &cobra.Command{
		Use:   "list <stack> [--stage STAGE]",
		Short: "List a stack's API keys (names, plans and prefixes; never the keys)",
		Args:  exactArgs(1, "keys list needs the stack, e.g. `slipway keys list hello`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			return read(g, cmd, func(c *client.Client) ([]client.APIKey, error) {
				return c.APIKeys(cmd.Context(), args[0], stage)
			}, func(keys []client.APIKey) error {
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "ID\tSTAGE\tNAME\tPLAN\tPREFIX\tCREATED")
				for _, k := range keys {
					plan := k.Plan
					if plan == "" {
						plan = "-"
					}
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s…\t%s\n", k.ID, k.Stage, k.Name, plan, k.Prefix, ago(k.CreatedAt))
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().StringVar(&stage, "stage", "", "only this stage's keys")
	addOutput(list, g)
	del := &cobra.Command{
		Use:   "delete <stack> <key-id>",
		Short: "Revoke an API key at once",
		Args:  exactArgs(2, "keys delete needs the stack and the key's ID, e.g. `slipway keys delete hello k3`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.DeleteAPIKey(cmd.Context(), args[0], args[1]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Deleted key %s of %s.\n", args[1], args[0])
			return nil
		},
	}
	cmd.AddCommand(create, list, del)
	return cmd
}

func domainCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{Use: "domain", Short: "Route custom domains to stages, with automatic HTTPS"}
	add := &cobra.Command{
		Use:   "add <stack> <stage> <domain>",
		Short: "Route a domain (pointed at this server in DNS) to a stage; its certificate is obtained over ACME",
		Args:  exactArgs(3, "domain add needs the stack, stage and domain, e.g. `slipway domain add hello prod api.example.com`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			d, err := c.AddDomain(cmd.Context(), args[0], args[1], args[2])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Routing %s to %s/%s. Its certificate is requested now; plain HTTP redirects to HTTPS once it is issued.\n", d.Name, d.Stack, d.Stage)
			return nil
		},
	}
	list := &cobra.Command{
		Use:   "list [stack]",
		Short: "List custom domains",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			stack := ""
			if len(args) == 1 {
				stack = args[0]
			}
			return read(g, cmd, func(c *client.Client) ([]client.Domain, error) {
				return c.Domains(cmd.Context(), stack)
			}, func(ds []client.Domain) error {
				tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
				fmt.Fprintln(tw, "DOMAIN\tSTACK\tSTAGE\tADDED")
				for _, d := range ds {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", d.Name, d.Stack, d.Stage, ago(d.CreatedAt))
				}
				return tw.Flush()
			})
		},
	}
	addOutput(list, g)
	remove := &cobra.Command{
		Use:   "remove <domain>",
		Short: "Stop routing a custom domain",
		Args:  exactArgs(1, "domain remove needs the domain, e.g. `slipway domain remove api.example.com`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.RemoveDomain(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Removed %s.\n", args[0])
			return nil
		},
	}
	cmd.AddCommand(add, list, remove)
	return cmd
}

func endpointCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "endpoint <stack> <stage> gateway|balancer",
		Short: "Switch a stage's endpoint at once, without a build or restarting instances (until the next deploy brings slipway.yml's)",
		Args:  exactArgs(3, "endpoint needs the stack, stage and kind, e.g. `slipway endpoint hello prod balancer`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := g.client()
			if err != nil {
				return err
			}
			if err := c.SetEndpointKind(cmd.Context(), args[0], args[1], args[2]); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Stage %s of %s is now behind the %s.\n", args[1], args[0], args[2])
			return nil
		},
	}
}
