package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/internal/client"
)

// Version is set at build time (-ldflags "-X .../cli.Version=...").
var Version = "dev"

// globals are the flags every client command shares.
type globals struct {
	server, token, dataDir string
	output                 string
	stdout, stderr         io.Writer
}

func (g *globals) client() (*client.Client, error) {
	cfg, err := client.Discover(g.server, g.token, g.dataDir)
	if err != nil {
		return nil, err
	}
	return client.New(cfg), nil
}

func (g *globals) json() (bool, error) {
	switch g.output {
	case "", "table":
		return false, nil
	case "json":
		return true, nil
	}
	return false, fmt.Errorf("invalid --output %q: use table or json", g.output)
}

func (g *globals) printJSON(v any) error {
	enc := json.NewEncoder(g.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// Main runs the CLI and returns the exit code. serverCmd builds the
// `slipway server` command (injected by main).
func Main(args []string, serverCmd func(version string) *cobra.Command) int {
	g := &globals{stdout: os.Stdout, stderr: os.Stderr}
	root := &cobra.Command{
		Use:           "slipway",
		Short:         "Run a Dockerized web app as a stack on your own machine",
		Long:          "Slipway deploys a Dockerized web app as a stack: built from a directory or git push, run on the local Docker Engine, routed by its gateway at <stage>.<stack>.<domain>.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       Version,
	}
	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", "", "server URL (default: $SLIPWAY_SERVER, else the credentials file)")
	pf.StringVar(&g.token, "token", "", "API token (default: $SLIPWAY_TOKEN, else the credentials file)")
	pf.StringVar(&g.dataDir, "data-dir", "", "data dir whose credentials file to read (default ~/.local/share/slipway)")
	root.AddCommand(
		serverCmd(Version),
		initCmd(g), deployCmd(g), statusCmd(g), logsCmd(g), rmCmd(g),
		buildsCmd(g), releasesCmd(g), scaleCmd(g), eventsCmd(g), usageCmd(g), invokeCmd(g), keysCmd(g), domainCmd(g), endpointCmd(g), abortCmd(g), execCmd(g), rollbackCmd(g), approveCmd(g), stackCmd(g), envCmd(g),
		alarmsCmd(g), topCmd(g), costCmd(g), exportCmd(g),
		schemaCmd(g), versionCmd(g),
	)
	root.SetArgs(args)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := root.ExecuteContext(ctx); err != nil {
		printError(g.stderr, err)
		return 1
	}
	return 0
}

// printError prints one line, then any detail lines indented.
func printError(w io.Writer, err error) {
	fmt.Fprintln(w, "error:", err)
	var ce *client.Error
	if errors.As(err, &ce) {
		for _, d := range ce.Details {
			fmt.Fprintln(w, "  |", d)
		}
	}
}

func addOutput(cmd *cobra.Command, g *globals) {
	cmd.Flags().StringVarP(&g.output, "output", "o", "table", "output format: table or json")
}

// read is the body of a read command: fetch with the client, then print
// the result as JSON (-o json) or with table for humans.
func read[T any](g *globals, cmd *cobra.Command, fetch func(*client.Client) (T, error), table func(T) error) error {
	asJSON, err := g.json()
	if err != nil {
		return err
	}
	c, err := g.client()
	if err != nil {
		return err
	}
	v, err := fetch(c)
	if err != nil {
		return err
	}
	if asJSON {
		return g.printJSON(v)
	}
	return table(v)
}

// follow runs an operation that streams progress, showing it on stderr,
// and returns its final event and how long it took.
func follow(g *globals, op func(*client.Client, func(client.Event)) (client.Event, error)) (client.Event, time.Duration, error) {
	c, err := g.client()
	if err != nil {
		return client.Event{}, 0, err
	}
	p := &progress{w: g.stderr, start: time.Now()}
	done, err := op(c, p.event)
	return done, time.Since(p.start), err
}
