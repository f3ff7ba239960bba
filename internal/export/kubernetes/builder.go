package kubernetes

import (
	"math"
	"time"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/export"
)

// builder makes one stage's documents.
type builder struct {
	stack  core.StackSpec
	stage  export.Stage
	domain string
	opts   export.Options
	notes  *stageNotes
}

// build renders the stage's file and, when it has secrets, its secrets
// file (else nil).
func (b *builder) build() (main, secrets []byte, err error) {
	docs := []document{b.configMap()}
	if b.stack.Architecture == core.ArchServerless {
		docs = append(docs, b.knativeService())
	} else {
		docs = append(docs, b.deployment(), b.service(), b.autoscaler())
		docs = append(docs, b.ingress())
	}
	if main, err = render(docs); err != nil {
		return nil, nil, err
	}
	if len(b.stage.Secrets) > 0 {
		if secrets, err = render([]document{b.secret()}); err != nil {
			return nil, nil, err
		}
	}
	return main, secrets, nil
}

func (b *builder) name() string { return b.stage.Spec.Name }

// image is the stage's released image, or a placeholder (noted) for a
// stage never released.
func (b *builder) image() string {
	if b.stage.Image == "" {
		b.notes.add("The stage was never released: its image `%s:latest` is a placeholder; push the stack's image to a registry the cluster can pull from and set it.", b.stack.Name)
		return b.stack.Name + ":latest"
	}
	return b.stage.Image
}

// seconds rounds a duration up to whole seconds, at least min.
func seconds(d time.Duration, min int32) int32 {
	s := int32(math.Ceil(d.Seconds()))
	return max(s, min)
}

func ptr[T any](v T) *T { return &v }
