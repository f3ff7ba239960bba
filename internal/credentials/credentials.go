// Package credentials reads and writes the server's credentials file:
// KEY=value lines (SLIPWAY_SERVER, SLIPWAY_TOKEN, SLIPWAY_GATEWAY,
// SLIPWAY_REGISTRY, SLIPWAY_SCRAPE_TOKEN) that a shell can also source. The file is mode 0600.
package credentials

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// FileName is the credentials file inside a data dir.
const FileName = "credentials"

// Keys in the file.
const (
	Server   = "SLIPWAY_SERVER"
	Token    = "SLIPWAY_TOKEN"
	Gateway  = "SLIPWAY_GATEWAY"
	Registry = "SLIPWAY_REGISTRY"
	// Scrape is the read-only token for GET /metrics (also alone in
	// <data-dir>/scrape-token, for Prometheus's credentials_file).
	Scrape = "SLIPWAY_SCRAPE_TOKEN"
)

// DefaultDataDir is ~/.local/share/slipway (or $XDG_DATA_HOME/slipway).
func DefaultDataDir() string {
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "slipway")
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return filepath.Join(os.TempDir(), "slipway")
	}
	return filepath.Join(home, ".local", "share", "slipway")
}

// Path is the credentials file of a data dir.
func Path(dataDir string) string { return filepath.Join(dataDir, FileName) }

// Read parses a credentials file.
func Read(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "=")
		if !ok {
			continue
		}
		out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `'"`)
	}
	return out, sc.Err()
}

// Write replaces the file atomically with mode 0600.
func Write(path string, values map[string]string) error {
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteString("# Slipway server credentials. Keep secret. Source it in a shell: . " + path + "\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "%s='%s'\n", k, values[k])
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", tmp, err)
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
