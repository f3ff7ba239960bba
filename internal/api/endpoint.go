package api

import (
	"net/http"

	"github.com/slipwayhq/slipway/internal/core"
)

// KeyRequest is the body of POST .../keys.
type KeyRequest struct {
	Name string `json:"name"`
	Plan string `json:"plan,omitempty"`
}

// KeyCreated answers POST .../keys: the key's record and, this once,
// the key.
type KeyCreated struct {
	Key   core.APIKey `json:"key"`
	Value string      `json:"value"`
}

func (a *API) createKey(w http.ResponseWriter, r *http.Request) error {
	var req KeyRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	k, v, err := a.svc.CreateAPIKey(r.Context(), r.PathValue("stack"), r.PathValue("stage"), req.Name, req.Plan)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, KeyCreated{Key: k, Value: v})
	return nil
}

func (a *API) listKeys(w http.ResponseWriter, r *http.Request) error {
	keys, err := a.svc.APIKeys(r.Context(), r.PathValue("stack"), r.URL.Query().Get("stage"))
	if err != nil {
		return err
	}
	if keys == nil {
		keys = []core.APIKey{}
	}
	writeJSON(w, http.StatusOK, keys)
	return nil
}

func (a *API) deleteKey(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.DeleteAPIKey(r.Context(), r.PathValue("stack"), r.PathValue("key")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// DomainRequest is the body of POST .../domains.
type DomainRequest struct {
	Name string `json:"name"`
}

func (a *API) addDomain(w http.ResponseWriter, r *http.Request) error {
	var req DomainRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d, err := a.svc.AddDomain(r.Context(), r.PathValue("stack"), r.PathValue("stage"), req.Name)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, d)
	return nil
}

func (a *API) listDomains(w http.ResponseWriter, r *http.Request) error {
	ds, err := a.svc.Domains(r.Context(), r.URL.Query().Get("stack"))
	if err != nil {
		return err
	}
	if ds == nil {
		ds = []core.Domain{}
	}
	writeJSON(w, http.StatusOK, ds)
	return nil
}

func (a *API) removeDomain(w http.ResponseWriter, r *http.Request) error {
	if err := a.svc.RemoveDomain(r.Context(), r.PathValue("domain")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// EndpointRequest is the body of PUT .../endpoint.
type EndpointRequest struct {
	Kind string `json:"kind"`
}

func (a *API) setEndpoint(w http.ResponseWriter, r *http.Request) error {
	var req EndpointRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	ep, err := a.svc.SetEndpointKind(r.Context(), r.PathValue("stack"), r.PathValue("stage"), req.Kind)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ep)
	return nil
}
