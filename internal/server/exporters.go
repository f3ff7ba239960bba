package server

import (
	"github.com/slipwayhq/slipway/internal/export"
	"github.com/slipwayhq/slipway/internal/export/cloudformation"
	"github.com/slipwayhq/slipway/internal/export/kubernetes"
)

// exporters are the formats `slipway export` writes: the registry the
// service looks exporters up in by Name. A new format is one line here.
func exporters() []export.Exporter {
	return []export.Exporter{
		cloudformation.Exporter{},
		kubernetes.New(),
	}
}
