package web

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/slipwayhq/slipway/internal/core"
)

// stackView is the stack page: stages with their current release and
// pending approval, and each stage's release history.
type stackView struct {
	core.StackStatus
	History []stageHistory
}

type stageHistory struct {
	Stage    string
	Releases []releaseRow
}

type releaseRow struct {
	core.Release
	Current  bool
	Rollback bool   // offered as a rollback target
	Why      string // why not, when it is not current and cannot be
}

func (d *Dashboard) stack(w http.ResponseWriter, r *http.Request, ss *session) error {
	name := r.PathValue("stack")
	st, err := d.cfg.Service.Status(r.Context(), name)
	if err != nil {
		return err
	}
	rels, err := d.cfg.Service.Releases(r.Context(), name, "")
	if err != nil {
		return err
	}
	builds, err := d.cfg.Service.Builds(r.Context(), name)
	if err != nil {
		return err
	}
	v := stackView{StackStatus: st, History: history(st, rels, builds)}
	refresh := 0
	for _, sg := range st.Stages {
		if sg.Status == "deploying" {
			refresh = 5
		}
	}
	return d.render(w, r, ss, http.StatusOK, "stack.html", view{Title: name, Stack: name, Refresh: refresh, Data: v})
}

// olderInstances counts a stage's instances of a release other than its
// current one: during a rollout or rollback the old ones serve until the
// new ones are healthy, so "2 of 1" needs saying why.
func olderInstances(sg core.StageStatus) int {
	if sg.Release == nil {
		return 0
	}
	n := 0
	for _, in := range sg.Instances {
		if in.Release != "" && in.Release != sg.Release.ID {
			n++
		}
	}
	return n
}

// history groups releases (newest first) by stage in pipeline order and
// marks which can be rolled back to: any release that served, other than
// the current one, whose build's image is still kept (the same rules the
// service enforces; the page only hides buttons that would fail).
func history(st core.StackStatus, rels []core.Release, builds []core.Build) []stageHistory {
	pruned := map[string]bool{}
	for _, b := range builds {
		pruned[b.ID] = b.Pruned
	}
	var out []stageHistory
	for _, sg := range st.Stages {
		current := ""
		if sg.Release != nil {
			current = sg.Release.ID
		}
		h := stageHistory{Stage: sg.Name}
		for _, rel := range rels {
			if rel.Stage != sg.Name {
				continue
			}
			row := releaseRow{Release: rel, Current: rel.ID == current}
			switch {
			case row.Current:
			case rel.Status == core.ReleaseFailed:
				row.Why = "never served"
			case rel.Status == core.ReleasePending:
				row.Why = "rolling out"
			case pruned[rel.Build]:
				row.Why = "image removed by retention"
			default:
				row.Rollback = true
			}
			h.Releases = append(h.Releases, row)
		}
		out = append(out, h)
	}
	return out
}

// approve releases the build awaiting approval at a stage, as `slipway
// approve` does; the form names the build the user saw, so a newer one
// that took its place is not released by mistake.
func (d *Dashboard) approve(w http.ResponseWriter, r *http.Request, ss *session) error {
	stack, stage := r.PathValue("stack"), r.PathValue("stage")
	back := "/ui/stacks/" + url.PathEscape(stack)
	rel, err := d.cfg.Service.Approve(r.Context(), stack, stage, r.PostFormValue("build"), func(core.Event) {})
	if err != nil {
		return d.flash(w, r, ss, back, "Approve failed: "+err.Error(), false)
	}
	d.log.Info("approved from the dashboard", "stack", stack, "stage", stage, "release", rel.ID, "build", rel.Build)
	return d.flash(w, r, ss, back, fmt.Sprintf("Approved: release %s of build %s serves stage %s.", rel.ID, rel.Build, stage), true)
}

// rollback rolls a stage back to an earlier release, as `slipway
// rollback --to` does.
func (d *Dashboard) rollback(w http.ResponseWriter, r *http.Request, ss *session) error {
	stack, stage := r.PathValue("stack"), r.PathValue("stage")
	back := "/ui/stacks/" + url.PathEscape(stack)
	to := strings.TrimSpace(r.PostFormValue("to"))
	if to == "" {
		return d.flash(w, r, ss, back, "Rollback failed: the form names no release to roll back to.", false)
	}
	rel, err := d.cfg.Service.Rollback(r.Context(), stack, stage, to, func(core.Event) {})
	if err != nil {
		return d.flash(w, r, ss, back, "Rollback failed: "+err.Error(), false)
	}
	d.log.Info("rolled back from the dashboard", "stack", stack, "stage", stage, "release", rel.ID, "from", rel.From)
	return d.flash(w, r, ss, back, fmt.Sprintf("Rolled back: release %s (from %s) serves stage %s.", rel.ID, rel.From, stage), true)
}
