// Package cli holds the slipway commands. Every command only parses
// flags, calls internal/client, and prints a table for humans or JSON
// with -o json. No domain logic lives here; the server command is
// injected by main so this package imports only the client.
package cli
