package service

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/slipwayhq/slipway/internal/certs"
	"github.com/slipwayhq/slipway/internal/core"
)

// keyNameRE is what an API key's name may be.
var keyNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// KeyPrefix starts every API key, so a leaked one is recognisable.
const KeyPrefix = "slk_"

// CreateAPIKey makes an API key for a gateway stage, optionally under
// one of its usage plans. The key is returned once; only its hash is
// kept.
func (s *Service) CreateAPIKey(ctx context.Context, stack, stage, name, plan string) (core.APIKey, string, error) {
	if !keyNameRE.MatchString(name) {
		return core.APIKey{}, "", core.Errorf(core.CodeInvalid, "invalid key name %q: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit", name)
	}
	st, err := s.cfg.Store.GetStack(ctx, stack)
	if err != nil {
		return core.APIKey{}, "", err
	}
	spec, ok := st.Spec.Stage(stage)
	if !ok {
		return core.APIKey{}, "", core.Errorf(core.CodeNotFound, "stack %q has no stage %q; stages: %s", stack, stage, stageNames(st.Spec))
	}
	ep := spec.EffectiveEndpoint()
	if ep.Kind != core.EndpointGateway {
		return core.APIKey{}, "", core.Errorf(core.CodeInvalid, "stage %s of %s uses the %s endpoint, which has no API keys; set endpoint.kind: gateway in slipway.yml", stage, stack, ep.Kind)
	}
	if plan != "" {
		if _, ok := ep.Gateway.UsagePlans[plan]; !ok {
			return core.APIKey{}, "", core.Errorf(core.CodeInvalid, "stage %s of %s has no usage plan %q; its plans: %s", stage, stack, plan, planNames(ep.Gateway.UsagePlans))
		}
	}
	existing, err := s.cfg.Store.ListAPIKeys(ctx, stack, stage)
	if err != nil {
		return core.APIKey{}, "", err
	}
	for _, k := range existing {
		if k.Name == name {
			return core.APIKey{}, "", core.Errorf(core.CodeConflict, "stage %s of %s already has a key named %q (%s); delete it first or pick another name", stage, stack, name, k.ID)
		}
	}
	b := make([]byte, 24)
	rand.Read(b)
	value := KeyPrefix + hex.EncodeToString(b)
	var key core.APIKey
	err = s.cfg.Store.Tx(ctx, func(tx storeTx) error {
		n, err := tx.NextSeq(ctx, stack, "key")
		if err != nil {
			return err
		}
		key = core.APIKey{ID: "k" + strconv.Itoa(n), Stack: stack, Stage: stage, Name: name, Plan: plan,
			Hash: core.HashAPIKey(value), Prefix: value[:len(KeyPrefix)+6], CreatedAt: time.Now().UTC()}
		return tx.PutAPIKey(ctx, key)
	})
	if err != nil {
		return core.APIKey{}, "", err
	}
	s.changed()
	return key, value, nil
}

// APIKeys lists a stack's keys (one stage's, or all).
func (s *Service) APIKeys(ctx context.Context, stack, stage string) ([]core.APIKey, error) {
	if stage != "" {
		if err := s.checkStage(ctx, stack, stage); err != nil {
			return nil, err
		}
	} else if _, err := s.cfg.Store.GetStack(ctx, stack); err != nil {
		return nil, err
	}
	return s.cfg.Store.ListAPIKeys(ctx, stack, stage)
}

// DeleteAPIKey revokes a key at once.
func (s *Service) DeleteAPIKey(ctx context.Context, stack, id string) error {
	if err := s.cfg.Store.DeleteAPIKey(ctx, stack, id); err != nil {
		return err
	}
	s.changed()
	return nil
}

func planNames(plans map[string]core.UsagePlan) string {
	if len(plans) == 0 {
		return "none (add usage_plans under endpoint.gateway in slipway.yml)"
	}
	var names []string
	for n := range plans {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// AddDomain routes a custom domain to a stage; its certificate is then
// obtained over ACME.
func (s *Service) AddDomain(ctx context.Context, stack, stage, name string) (core.Domain, error) {
	name = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(name)), ".")
	// The rules of the names a certificate can be had for.
	if err := certs.ValidateDomain(name); err != nil {
		return core.Domain{}, core.Errorf(core.CodeInvalid, "%v", err)
	}
	if strings.HasSuffix(name, "."+s.cfg.Domain) || name == s.cfg.Domain {
		return core.Domain{}, core.Errorf(core.CodeInvalid, "domain %q is under the server's own domain %s, whose names are <stage>.<stack>.%s already", name, s.cfg.Domain, s.cfg.Domain)
	}
	if err := s.checkStage(ctx, stack, stage); err != nil {
		return core.Domain{}, err
	}
	d := core.Domain{Name: name, Stack: stack, Stage: stage, CreatedAt: time.Now().UTC()}
	if err := s.cfg.Store.PutDomain(ctx, d); err != nil {
		return core.Domain{}, err
	}
	s.changed()
	return d, nil
}

// Domains lists the custom domains of a stack ("" for every stack).
func (s *Service) Domains(ctx context.Context, stack string) ([]core.Domain, error) {
	if stack != "" {
		if _, err := s.cfg.Store.GetStack(ctx, stack); err != nil {
			return nil, err
		}
	}
	return s.cfg.Store.ListDomains(ctx, stack)
}

// RemoveDomain stops routing a custom domain.
func (s *Service) RemoveDomain(ctx context.Context, name string) error {
	if err := s.cfg.Store.DeleteDomain(ctx, strings.ToLower(name)); err != nil {
		return err
	}
	s.changed()
	return nil
}

// changed tells the data plane that keys or domains changed.
func (s *Service) changed() {
	if s.cfg.OnChange != nil {
		s.cfg.OnChange()
	}
	s.cfg.Controller.Kick()
}

// SetEndpointKind switches a stage between the gateway and the balancer
// at once, without a build or restarting instances: only the route
// changes. It is kept in the stack's spec until the next deploy brings
// slipway.yml's.
func (s *Service) SetEndpointKind(ctx context.Context, stack, stage, kind string) (core.EndpointSpec, error) {
	if kind != core.EndpointGateway && kind != core.EndpointBalancer {
		return core.EndpointSpec{}, core.Errorf(core.CodeInvalid, "invalid endpoint %q: use gateway or balancer", kind)
	}
	var out core.EndpointSpec
	err := s.cfg.Store.Tx(ctx, func(tx storeTx) error {
		st, err := tx.GetStack(ctx, stack)
		if err != nil {
			return err
		}
		for i := range st.Spec.Stages {
			if st.Spec.Stages[i].Name != stage {
				continue
			}
			ep := st.Spec.Stages[i].EffectiveEndpoint()
			from := ep.Kind
			ep.Kind = kind
			st.Spec.Stages[i].Endpoint = ep
			st.UpdatedAt = time.Now().UTC()
			out = ep
			if err := tx.UpdateStack(ctx, st); err != nil {
				return err
			}
			return tx.AddEvent(ctx, core.StageEvent{Time: time.Now().UTC(), Stack: stack, Stage: stage, Type: "endpoint",
				Message: "endpoint switched from " + from + " to " + kind})
		}
		return core.Errorf(core.CodeNotFound, "stack %q has no stage %q; stages: %s", stack, stage, stageNames(st.Spec))
	})
	if err == nil {
		s.changed()
	}
	return out, err
}
