package limit_test

import (
	"testing"

	"github.com/slipwayhq/slipway/internal/endpoint/limit"
	"github.com/slipwayhq/slipway/internal/endpoint/limit/quotatest"
)

func TestMemoryQuotasConformance(t *testing.T) {
	quotatest.Run(t, func(*testing.T) limit.QuotaStore { return limit.NewMemoryQuotas() })
}
