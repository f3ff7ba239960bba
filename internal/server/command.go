package server

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/slipwayhq/slipway/internal/credentials"
	"github.com/slipwayhq/slipway/internal/telemetry/alarm"
	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
)

// Command is `slipway server`. Every flag has a SLIPWAY_* variable
// equivalent (--data-dir is SLIPWAY_DATA_DIR); flags win.
func Command(version string) *cobra.Command {
	cfg := Config{Version: version}
	var level string
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the Slipway server (API, gateway, registry, controllers) in the foreground",
		Long: `Run the Slipway server in the foreground. It listens for the API, the gateway and
the embedded registry, and keeps deployed stacks running and routed. On first
start it writes <data-dir>/credentials (mode 0600) with the server URL and an
admin token, which the other commands read. SIGINT or SIGTERM stop the server
gracefully; deployed instances keep running and are adopted on the next start.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			var lv slog.Level
			if err := lv.UnmarshalText([]byte(level)); err != nil {
				return fmt.Errorf("invalid --log-level %q: use debug, info, warn or error", level)
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lv}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return Run(ctx, cfg, log)
		},
	}
	f := cmd.Flags()
	f.StringVar(&cfg.DataDir, "data-dir", env("DATA_DIR", credentials.DefaultDataDir()), "where state, images, logs and credentials live (SLIPWAY_DATA_DIR)")
	f.StringVar(&cfg.APIAddr, "api-addr", env("API_ADDR", "127.0.0.1:7070"), "API and dashboard listen address (SLIPWAY_API_ADDR)")
	f.StringVar(&cfg.GatewayAddr, "gateway-addr", env("GATEWAY_ADDR", ":8080"), "gateway listen address for app traffic (SLIPWAY_GATEWAY_ADDR)")
	f.StringVar(&cfg.RegistryAddr, "registry-addr", env("REGISTRY_ADDR", "127.0.0.1:5000"), "embedded registry listen address (SLIPWAY_REGISTRY_ADDR)")
	f.StringVar(&cfg.Domain, "domain", env("DOMAIN", "localhost"), "stages are served at <stage>.<stack>.<domain> (SLIPWAY_DOMAIN)")
	f.StringVar(&cfg.Namespace, "namespace", env("NAMESPACE", ""), "keeps this server's containers and networks apart from another server's on the same Docker (SLIPWAY_NAMESPACE)")
	f.DurationVar(&cfg.StatsInterval, "autoscale-interval", envDuration("AUTOSCALE_INTERVAL", 5*time.Second), "how often instances' CPU is sampled for autoscaling (SLIPWAY_AUTOSCALE_INTERVAL)")
	f.DurationVar(&cfg.StatsWindow, "autoscale-window", envDuration("AUTOSCALE_WINDOW", 30*time.Second), "the autoscaler averages CPU over this window (SLIPWAY_AUTOSCALE_WINDOW)")
	f.IntVar(&cfg.KeepImages, "keep-images", envInt("KEEP_IMAGES", 25), "images kept per stack; older ones go unless a stage's last releases use them (SLIPWAY_KEEP_IMAGES)")
	f.DurationVar(&cfg.BuildTimeout, "build-timeout", envDuration("BUILD_TIMEOUT", time.Hour), "a build (build.yml and image build) running longer is killed and marked timed out; CodeBuild's default (SLIPWAY_BUILD_TIMEOUT)")
	f.StringVar(&cfg.HTTPSAddr, "https-addr", env("HTTPS_ADDR", ":8443"), "HTTPS listener for custom domains, with ACME certificates (\"\" turns it off; use :443 in production, with --gateway-addr :80 for HTTP-01) (SLIPWAY_HTTPS_ADDR)")
	f.StringVar(&cfg.ACMECA, "acme-ca", env("ACME_CA", ""), "ACME directory URL certificates come from (default Let's Encrypt) (SLIPWAY_ACME_CA)")
	f.StringVar(&cfg.ACMEEmail, "acme-email", env("ACME_EMAIL", ""), "contact address for the ACME account (SLIPWAY_ACME_EMAIL)")
	f.StringVar(&cfg.ACMERoots, "acme-ca-root", env("ACME_CA_ROOT", ""), "PEM file of extra roots to trust the ACME CA's own HTTPS with, for a test CA (SLIPWAY_ACME_CA_ROOT)")
	var trusted string
	f.StringVar(&trusted, "trusted-proxies", env("TRUSTED_PROXIES", ""), "comma-separated CIDRs of proxies in front of the gateway whose X-Forwarded-For is believed (SLIPWAY_TRUSTED_PROXIES)")
	f.StringArrayVar(&cfg.AlarmWebhooks, "alarm-webhook", envList("ALARM_WEBHOOK"), "webhook URL every stack's built-in alarms (failed builds and releases, crash loops) notify; repeatable (SLIPWAY_ALARM_WEBHOOK, comma-separated)")
	f.StringVar(&level, "log-level", env("LOG_LEVEL", "info"), "debug, info, warn or error (SLIPWAY_LOG_LEVEL)")
	var logRetention, logMaxBytes string
	f.StringVar(&logRetention, "log-retention", env("LOG_RETENTION", "90d"), "stored logs (runtime, build, release, access) older than this are deleted, e.g. 90d or 36h (SLIPWAY_LOG_RETENTION)")
	f.StringVar(&logMaxBytes, "log-max-bytes", env("LOG_MAX_BYTES", "256MiB"), "cap on each stage's stored logs of each kind; the oldest segments go first, e.g. 256MiB (SLIPWAY_LOG_MAX_BYTES)")
	cmd.PreRunE = func(*cobra.Command, []string) error {
		cfg.Domain = strings.Trim(strings.ToLower(cfg.Domain), ".")
		if cfg.Domain == "" {
			return fmt.Errorf("--domain is empty: give a DNS name such as localhost or apps.example.com")
		}
		if cfg.KeepImages < 1 {
			return fmt.Errorf("invalid --keep-images %d: keep at least 1", cfg.KeepImages)
		}
		if cfg.BuildTimeout < time.Second || cfg.BuildTimeout > 36*time.Hour {
			return fmt.Errorf("invalid --build-timeout %s: use 1s to 36h", cfg.BuildTimeout)
		}
		for _, c := range strings.Split(trusted, ",") {
			if c = strings.TrimSpace(c); c == "" {
				continue
			}
			p, err := netip.ParsePrefix(c)
			if err != nil {
				if a, aerr := netip.ParseAddr(c); aerr == nil {
					p = netip.PrefixFrom(a, a.BitLen())
				} else {
					return fmt.Errorf("invalid --trusted-proxies entry %q: use CIDRs like 10.0.0.0/8 or addresses, comma-separated", c)
				}
			}
			cfg.TrustedProxies = append(cfg.TrustedProxies, p)
		}
		hooks, err := alarm.ValidateWebhooks(cfg.AlarmWebhooks)
		if err != nil {
			return fmt.Errorf("--alarm-webhook: %w", err)
		}
		cfg.AlarmWebhooks = hooks
		if cfg.LogRetention, err = logstore.ParseAge(logRetention); err != nil || cfg.LogRetention < time.Hour {
			return fmt.Errorf("invalid --log-retention %q: use whole days like 90d, or a duration of at least 1h like 36h", logRetention)
		}
		if cfg.LogMaxBytes, err = logstore.ParseSize(logMaxBytes); err != nil || cfg.LogMaxBytes < 4<<10 {
			return fmt.Errorf("invalid --log-max-bytes %q: use a size of at least 4KiB, like 256MiB or 1GiB", logMaxBytes)
		}
		if cfg.Namespace != "" && !validNamespace(cfg.Namespace) {
			return fmt.Errorf("invalid --namespace %q: use up to 20 lower-case letters and digits", cfg.Namespace)
		}
		return nil
	}
	return cmd
}

func env(key, def string) string {
	if v := os.Getenv("SLIPWAY_" + key); v != "" {
		return v
	}
	return def
}

// envList reads a comma-separated SLIPWAY_* variable.
func envList(key string) []string {
	var out []string
	for _, v := range strings.Split(os.Getenv("SLIPWAY_"+key), ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv("SLIPWAY_" + key)); err == nil && n > 0 {
		return n
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv("SLIPWAY_" + key)); err == nil && d > 0 {
		return d
	}
	return def
}

func validNamespace(s string) bool {
	if len(s) > 20 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
