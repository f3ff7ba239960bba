package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/internal/client"
)

func exportCmd(g *globals) *cobra.Command {
	var opts client.ExportOptions
	var dir string
	cmd := &cobra.Command{
		Use:   "export <stack> --format cloudformation|kubernetes [--stage STAGE] [-o DIR] [--include-secrets]",
		Short: "Write a stack as AWS CloudFormation templates or Kubernetes manifests, for when it outgrows one machine",
		Long: `Write a stack as another platform's files into a directory (default ./<stack>-<format>):
  cloudformation  a shared template (ECR repository, pipeline) and one template per stage
  kubernetes      per stage, a Deployment, Service, HPA and Ingress, or a Knative Service

Secret variables appear by name only unless --include-secrets is given. What the
format cannot express is printed as warnings. -o - prints the files as JSON instead.`,
		Args: exactArgs(1, "export needs the stack, e.g. `slipway export hello --format cloudformation`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if opts.Format == "" {
				return fmt.Errorf("export needs --format: cloudformation or kubernetes")
			}
			c, err := g.client()
			if err != nil {
				return err
			}
			res, err := c.Export(cmd.Context(), args[0], opts)
			if err != nil {
				return err
			}
			if dir == "-" {
				return g.printJSON(res)
			}
			if dir == "" {
				dir = args[0] + "-" + opts.Format
			}
			if err := writeExport(dir, res.Files); err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Wrote %d files of %s as %s to %s:\n", len(res.Files), res.Stack, res.Format, dir)
			var warnings int
			for _, f := range res.Files {
				fmt.Fprintf(g.stdout, "  %s\n", filepath.Join(dir, filepath.FromSlash(f.Name)))
				warnings += len(f.Warnings)
			}
			if warnings > 0 {
				fmt.Fprintf(g.stderr, "%s (what %s cannot express):\n", countOf(warnings, "warning"), res.Format)
				for _, f := range res.Files {
					for _, w := range f.Warnings {
						fmt.Fprintf(g.stderr, "  %s: %s\n", f.Name, w)
					}
				}
			}
			if opts.IncludeSecrets {
				fmt.Fprintln(g.stderr, "The files hold secret values: keep them out of version control.")
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&opts.Format, "format", "", "cloudformation or kubernetes")
	f.StringVar(&opts.Stage, "stage", "", "only this stage (default every stage)")
	f.BoolVar(&opts.IncludeSecrets, "include-secrets", false, "put secret values in the files (default: names only)")
	f.StringVarP(&dir, "output", "o", "", "directory to write into (default ./<stack>-<format>); - prints the files as JSON")
	return cmd
}

// writeExport writes files under dir, creating it (and subdirectories
// the names hold); names must stay inside dir. Files are 0600: with
// --include-secrets they hold secret values.
func writeExport(dir string, files []client.ExportFile) error {
	for _, f := range files {
		name := filepath.FromSlash(f.Name)
		if !filepath.IsLocal(name) {
			return fmt.Errorf("the server sent a file name outside the output directory: %q", f.Name)
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
		}
		if err := os.WriteFile(path, []byte(f.Data), 0o600); err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				return fmt.Errorf("write %s: %w", path, pe.Err)
			}
			return err
		}
		// WriteFile keeps an existing file's mode: a file an earlier
		// export (or anyone) left readable must not stay so.
		if err := os.Chmod(path, 0o600); err != nil {
			return fmt.Errorf("write %s: %w", path, err)
		}
	}
	return nil
}

// countOf is "1 warning" or "n warnings".
func countOf(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
