package docker

import (
	"context"
	"strings"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/moby/moby/client"
)

// RemoveImage untags ref and deletes the image once no tag is left,
// pruning its untagged parent layers the way `docker rmi` does. A missing
// image is not an error; an image still used by a container is
// CodeConflict.
func (d *Docker) RemoveImage(ctx context.Context, ref string) error {
	var err error
	// Two tags of one image removed at once race inside the daemon: both
	// untag, both try to delete the image, and the loser gets "unrecognized
	// image ID" although its tag is gone. Asking again settles it (the
	// retry then finds nothing, which is success).
	for range 3 {
		_, err = d.cli.ImageRemove(ctx, ref, client.ImageRemoveOptions{PruneChildren: true})
		if err == nil || cerrdefs.IsNotFound(err) {
			return nil
		}
		if !strings.Contains(err.Error(), "unrecognized image ID") {
			break
		}
	}
	return d.fail(err, "remove image %s", ref)
}

// TagImage gives a local image another reference (docker tag).
func (d *Docker) TagImage(ctx context.Context, ref, newRef string) error {
	if _, err := d.cli.ImageTag(ctx, client.ImageTagOptions{Source: ref, Target: newRef}); err != nil {
		return d.fail(err, "tag image %s as %s", ref, newRef)
	}
	return nil
}
