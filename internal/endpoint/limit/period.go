package limit

import (
	"time"

	"github.com/slipwayhq/slipway/internal/core"
)

// Period returns the UTC calendar period of kind (core.QuotaDay, Week or
// Month) that holds t: [start, end). A week starts on Monday 00:00 UTC, a
// month on its first day at 00:00 UTC.
func Period(kind string, t time.Time) (start, end time.Time) {
	t = t.UTC()
	y, m, d := t.Date()
	switch kind {
	case core.QuotaWeek:
		// Weekday: Sunday 0 … Saturday 6; days since Monday: (wd+6)%7.
		d -= (int(t.Weekday()) + 6) % 7
		start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 7)
	case core.QuotaMonth:
		start = time.Date(y, m, 1, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 1, 0)
	default: // core.QuotaDay
		start = time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
		return start, start.AddDate(0, 0, 1)
	}
}
