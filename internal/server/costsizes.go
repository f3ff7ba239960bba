package server

import (
	"context"
	"encoding/json"
	"time"

	"github.com/slipwayhq/slipway/internal/service"
	"github.com/slipwayhq/slipway/internal/telemetry/logstore"
	"github.com/slipwayhq/slipway/internal/web"
)

var _ web.ResponseSizer = storeLogs{}

// ResponseBytes is the mean response size of a stage's last limit access
// log entries since a time, read from the stored entries (the viewer's
// lines are text): the dashboard's cost page extrapolates with it.
func (l storeLogs) ResponseBytes(ctx context.Context, stack, stage string, since time.Time, limit int) (float64, int, error) {
	var sum float64
	n := 0
	err := l.read(ctx, stack, service.LogQuery{Kind: logstore.Access, Stage: stage, Since: since, Tail: limit}, func(e logstore.Entry) error {
		var v struct {
			Bytes int64 `json:"bytes"`
		}
		if json.Unmarshal(e.JSON, &v) == nil {
			sum += float64(v.Bytes)
			n++
		}
		return nil
	})
	if err != nil || n == 0 {
		return 0, 0, err
	}
	return sum / float64(n), n, nil
}
