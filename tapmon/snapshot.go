package main

import (
	"context"
	"fmt"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/livesnap"
)

// snapshotVBD takes a live snapshot of one VBD through xmsnap's code
// path (package livesnap), with its default leaf name.
func snapshotVBD(ctx context.Context, c *control.Client, minor int) (string, error) {
	res, err := livesnap.Take(ctx, c, minor, livesnap.Options{})
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("snapshot of minor %d: now serving %s (paused %v)", minor, res.Image, res.Paused.Round(1e6)), nil
}
