package service

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/export"
)

func TestExportStack(t *testing.T) {
	stack := core.Stack{
		Name: "shop",
		Spec: core.StackSpec{Name: "shop", Stages: []core.StageSpec{
			{Name: "dev", Env: map[string]string{"A": "yml", "B": "yml", "S": "yml"}},
			{Name: "prod"},
		}},
		Vars:      map[string]map[string]string{"dev": {"B": "set"}},
		Secrets:   map[string]map[string]string{"dev": {"S": "sealed:s3cr3t"}},
		BuildVars: map[string]string{"DOCKERFILE_PATH": "Dockerfile"},
	}
	serving := map[string]core.Release{"dev": {Image: "127.0.0.1:5000/shop:b3", Digest: "sha256:abc"}}
	domains := []core.Domain{{Name: "z.example.com", Stage: "dev"}, {Name: "a.example.com", Stage: "dev"}, {Name: "p.example.com", Stage: "prod"}}
	alarms := []core.Alarm{{ID: "a2", Stage: "dev"}, {ID: "a1", Stage: "dev"}, {ID: "a3", Stage: "prod"}}
	open := func(sealed string) (string, error) {
		v, ok := strings.CutPrefix(sealed, "sealed:")
		if !ok {
			return "", errors.New("not sealed")
		}
		return v, nil
	}
	dev := func(secret string) export.Stage {
		return export.Stage{
			Spec: stack.Spec.Stages[0], Image: "127.0.0.1:5000/shop@sha256:abc",
			Env:     map[string]string{"A": "yml", "B": "set"},
			Secrets: map[string]string{"S": secret},
			Domains: []string{"a.example.com", "z.example.com"},
			Alarms:  []core.Alarm{{ID: "a1", Stage: "dev"}, {ID: "a2", Stage: "dev"}},
		}
	}
	prod := export.Stage{Spec: stack.Spec.Stages[1], Env: map[string]string{}, Secrets: map[string]string{},
		Domains: []string{"p.example.com"}, Alarms: []core.Alarm{{ID: "a3", Stage: "prod"}}}
	for _, c := range []struct {
		name  string
		stage string
		open  func(string) (string, error)
		want  []export.Stage
	}{
		{"every stage, secrets' names only", "", nil, []export.Stage{dev(""), prod}},
		{"one stage", "prod", nil, []export.Stage{prod}},
		{"secret values", "dev", open, []export.Stage{dev("s3cr3t")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := exportStack(exportInput{stack: stack, stage: c.stage, domain: "localhost", serving: serving,
				domains: domains, alarms: alarms, open: c.open})
			if err != nil {
				t.Fatal(err)
			}
			if got.Domain != "localhost" || got.Spec.Name != "shop" || got.BuildVars["DOCKERFILE_PATH"] != "Dockerfile" {
				t.Errorf("stack fields: %+v", got)
			}
			if !reflect.DeepEqual(got.Stages, c.want) {
				t.Errorf("stages:\ngot  %+v\nwant %+v", got.Stages, c.want)
			}
		})
	}
	bad := func(string) (string, error) { return "", errors.New("wrong key") }
	if _, err := exportStack(exportInput{stack: stack, open: bad}); err == nil || !strings.Contains(err.Error(), "open secret S of shop/dev") {
		t.Errorf("a secret that cannot be opened: got %v", err)
	}
}

func TestImageRef(t *testing.T) {
	for _, c := range []struct{ image, digest, want string }{
		{"127.0.0.1:5000/shop:b3", "sha256:abc", "127.0.0.1:5000/shop@sha256:abc"},
		{"127.0.0.1:5000/shop:b3", "", "127.0.0.1:5000/shop:b3"},
		{"127.0.0.1:5000/shop", "sha256:abc", "127.0.0.1:5000/shop@sha256:abc"},
	} {
		if got := imageRef(core.Release{Image: c.image, Digest: c.digest}); got != c.want {
			t.Errorf("imageRef(%s, %s) = %s, want %s", c.image, c.digest, got, c.want)
		}
	}
}
