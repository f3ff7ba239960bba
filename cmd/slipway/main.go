// Command slipway is Slipway's single binary: the server and its CLI.
package main

import (
	"os"

	"github.com/slipwayhq/slipway/internal/cli"
	"github.com/slipwayhq/slipway/internal/server"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], server.Command))
}
