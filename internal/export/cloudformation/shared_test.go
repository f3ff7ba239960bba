package cloudformation

import (
	"encoding/json"
	"testing"

	"github.com/slipwayhq/slipway/internal/core"
)

// TestSharedTemplate checks what the issue asks of the shared template,
// beyond the golden files: the repository keeps 25 images, every stage
// is released in order after its approval, and releases see TinyStacks'
// variables.
func TestSharedTemplate(t *testing.T) {
	spec := starterSpec(t, "container", core.EndpointGateway) // dev, then prod with approval
	var tmpl struct {
		Resources map[string]struct {
			Properties json.RawMessage
		}
	}
	data, err := sharedTemplate(spec, nil).marshal()
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &tmpl); err != nil {
		t.Fatal(err)
	}
	var repo struct {
		LifecyclePolicy struct{ LifecyclePolicyText string }
	}
	json.Unmarshal(tmpl.Resources["Repository"].Properties, &repo)
	var policy struct {
		Rules []struct {
			Selection struct {
				TagStatus, CountType string
				CountNumber          int
			}
			Action struct{ Type string }
		}
	}
	if err := json.Unmarshal([]byte(repo.LifecyclePolicy.LifecyclePolicyText), &policy); err != nil {
		t.Fatal(err)
	}
	if len(policy.Rules) != 1 || policy.Rules[0].Selection.CountNumber != 25 || policy.Rules[0].Selection.CountType != "imageCountMoreThan" ||
		policy.Rules[0].Selection.TagStatus != "any" || policy.Rules[0].Action.Type != "expire" {
		t.Errorf("lifecycle policy: %s", repo.LifecyclePolicy.LifecyclePolicyText)
	}

	var pipeline struct {
		Stages []struct {
			Name    string
			Actions []struct {
				Name          string
				ActionTypeId  struct{ Category, Provider string }
				Configuration struct{ ProjectName any }
			}
		}
	}
	json.Unmarshal(tmpl.Resources["Pipeline"].Properties, &pipeline)
	var got []string
	for _, st := range pipeline.Stages {
		for _, a := range st.Actions {
			got = append(got, st.Name+"/"+a.Name+":"+a.ActionTypeId.Provider)
		}
	}
	want := []string{"Source/Source:S3", "Build/Build:CodeBuild", "Stage-dev/Release:CodeBuild", "Stage-prod/Approve:Manual", "Stage-prod/Release:CodeBuild"}
	if len(got) != len(want) {
		t.Fatalf("pipeline actions %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("pipeline actions %v, want %v", got, want)
		}
	}

	vars := func(res string) map[string]any {
		var p struct {
			Environment struct {
				EnvironmentVariables []struct {
					Name  string
					Value any
				}
			}
		}
		json.Unmarshal(tmpl.Resources[res].Properties, &p)
		out := map[string]any{}
		for _, v := range p.Environment.EnvironmentVariables {
			out[v.Name] = v.Value
		}
		return out
	}
	for res, want := range map[string]map[string]string{
		"BuildProject": {"STAGE_NAME": "dev", "PREVIOUS_STAGE_NAME": "latest"},
		"ReleaseDev":   {"STAGE_NAME": "dev", "PREVIOUS_STAGE_NAME": "latest", "SERVICE_NAME": "shop-dev"},
		"ReleaseProd":  {"STAGE_NAME": "prod", "PREVIOUS_STAGE_NAME": "dev", "SERVICE_NAME": "shop-prod"},
	} {
		got := vars(res)
		for _, k := range []string{"S3_BUCKET", "ECR_ENDPOINT", "ECR_IMAGE_URL"} {
			if got[k] == nil {
				t.Errorf("%s lacks %s", res, k)
			}
		}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s: %s = %v, want %s", res, k, got[k], v)
			}
		}
	}
	if vars("ReleaseProd")["CLUSTER_ARN"] == nil {
		t.Error("a container stage's release lacks CLUSTER_ARN")
	}
}
