package docker

import (
	"context"
	"encoding/json"
	"io"
	"regexp"
	"strings"

	"github.com/distribution/reference"
	"github.com/moby/moby/api/pkg/authconfig"
	"github.com/moby/moby/api/types/registry"
	"github.com/moby/moby/client"

	"github.com/slipwayhq/slipway/internal/core"
	"github.com/slipwayhq/slipway/internal/engine"
)

// PushImage pushes ref to its registry with basic auth and returns the
// manifest digest the registry accepted.
//
// A push that the daemon starts but the registry refuses (unreachable,
// unauthorized, rejected manifest) arrives as an error record in the
// stream, after an HTTP 200; it is reported as CodeUnavailable since the
// registry is a dependency. A local image that does not exist is
// CodeNotFound.
func (d *Docker) PushImage(ctx context.Context, ref string, auth engine.RegistryAuth, progress func(string)) (string, error) {
	if progress == nil {
		progress = func(string) {}
	}
	named, err := reference.ParseNormalizedNamed(ref)
	if err != nil {
		return "", core.Wrap(core.CodeInvalid, err, "push %s: invalid image reference: %v", ref, err)
	}
	header, err := authconfig.Encode(registry.AuthConfig{
		Username:      auth.Username,
		Password:      auth.Password,
		ServerAddress: reference.Domain(named),
	})
	if err != nil {
		return "", core.Wrap(core.CodeInternal, err, "push %s: encode registry auth: %v", ref, err)
	}
	res, err := d.cli.ImagePush(ctx, ref, client.ImagePushOptions{RegistryAuth: header})
	if err != nil {
		return "", d.fail(err, "push %s", ref)
	}
	defer res.Close()

	digest, err := readPushStream(ref, res, progress)
	if err != nil {
		if ctx.Err() != nil {
			return "", d.fail(ctx.Err(), "push %s", ref)
		}
		if core.CodeOf(err) != core.CodeInternal {
			return "", err
		}
		return "", d.fail(err, "push %s", ref)
	}
	if digest == "" {
		return "", core.Errorf(core.CodeInternal, "push %s: the daemon reported no digest", ref)
	}
	return digest, nil
}

// pushedDigest matches the final status of a push,
// "latest: digest: sha256:... size: 528".
var pushedDigest = regexp.MustCompile(`digest: (sha256:[0-9a-f]{64}) size: [0-9]+`)

// readPushStream reports de-duplicated progress lines, fails on an error
// record, and returns the pushed digest from the aux record or, failing
// that, from the final status line.
func readPushStream(ref string, r io.Reader, progress func(string)) (string, error) {
	var (
		digest   string
		statuses statusDeduper
	)
	err := decodeStream(r, func(m *streamMessage) error {
		if msg := m.errorMessage(); msg != "" {
			if strings.Contains(msg, "does not exist locally") || strings.Contains(msg, "No such image") {
				return core.Errorf(core.CodeNotFound, "push %s: %s", ref, msg)
			}
			return core.Errorf(core.CodeUnavailable, "push %s: %s", ref, msg)
		}
		if len(m.Aux) > 0 {
			var aux struct{ Digest string }
			if json.Unmarshal(m.Aux, &aux) == nil && aux.Digest != "" {
				digest = aux.Digest
			}
		}
		if digest == "" {
			if match := pushedDigest.FindStringSubmatch(m.Status); match != nil {
				digest = match[1]
			}
		}
		if line, ok := statuses.line(m); ok {
			progress(line)
		}
		return nil
	})
	if err != nil {
		return "", err
	}
	return digest, nil
}
