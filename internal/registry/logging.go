package registry

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/sirupsen/logrus"
)

// Distribution logs through the process-wide logrus standard logger (its
// internal dcontext default, plus direct logrus calls in the storage
// package), and there is no public way to hand it another logger. So the
// bridge is global too: logrus output is discarded and every entry is
// re-emitted at debug level on the slog logger of the most recent New.
// Distribution logs client mistakes (an unknown manifest on HEAD, say) at
// error level and every request at info, which is noise for Slipway; the
// HTTP access log belongs to the server, not to this package.
var (
	bridgeOnce   sync.Once
	bridgeLogger atomic.Pointer[slog.Logger]
)

// routeLogrus sends distribution's logrus output to logger at debug level.
// When logger has debug disabled, logrus is raised to panic level so
// entries are not even built.
func routeLogrus(logger *slog.Logger) {
	bridgeLogger.Store(logger)
	bridgeOnce.Do(func() {
		std := logrus.StandardLogger()
		std.SetOutput(io.Discard)
		std.SetFormatter(discardFormatter{})
		std.AddHook(slogHook{})
	})
	level := logrus.PanicLevel
	if logger.Enabled(context.Background(), slog.LevelDebug) {
		level = logrus.DebugLevel
	}
	logrus.SetLevel(level)
}

// slogHook forwards logrus entries to the current bridge logger.
type slogHook struct{}

func (slogHook) Levels() []logrus.Level { return logrus.AllLevels }

func (slogHook) Fire(e *logrus.Entry) error {
	logger := bridgeLogger.Load()
	if logger == nil {
		return nil
	}
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	attrs := make([]slog.Attr, 0, len(e.Data)+1)
	attrs = append(attrs, slog.String("distribution_level", e.Level.String()))
	for k, v := range e.Data {
		if k == "go.version" {
			continue // on every entry, says nothing
		}
		attrs = append(attrs, slog.Any(k, v))
	}
	logger.LogAttrs(ctx, slog.LevelDebug, e.Message, attrs...)
	return nil
}

// discardFormatter skips the formatting work whose result logrus would
// only write to io.Discard.
type discardFormatter struct{}

func (discardFormatter) Format(*logrus.Entry) ([]byte, error) { return nil, nil }
