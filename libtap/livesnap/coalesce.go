package livesnap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libvhd/imagelock"
)

// CoalesceOptions tune Coalesce.
type CoalesceOptions struct {
	// Leaf merges the leaf's data too: a snapshot is taken first (named
	// as Snapshot says), so that the old leaf is a layer like the others.
	Leaf     bool
	Snapshot Options
	// Top and Base choose the layers: Top..Base-1 (0 is the leaf) merge
	// into Base. 0 means 1 for Top and the chain's last image for Base.
	Top, Base int
	// Remove deletes the merged images once they are out of the chain,
	// each unless another process still has it open.
	Remove bool
}

// CoalesceResult says what Coalesce did.
type CoalesceResult struct {
	Minor   int      `json:"minor"`
	Leaf    string   `json:"leaf,omitempty"` // the snapshot taken first (Leaf)
	Sectors int64    `json:"sectors"`
	Merged  []string `json:"merged"`
	Removed []string `json:"removed,omitempty"`
	// Pauses are how long the disk was paused: the snapshot's, then the
	// relink's.
	Pauses []time.Duration `json:"pauses_ns"`
}

// Coalesce shrinks the chain of the disk served as minor while it
// serves: the tapdisk copies the layers' data into the base layer
// beside the guest's requests, then pauses only to relink the chain
// (control op coalesce). The disk never sees an error, and the merged
// images stay on disk unless Remove.
func Coalesce(ctx context.Context, c *control.Client, minor int, opts CoalesceOptions) (res CoalesceResult, err error) {
	res.Minor = minor
	top := max(opts.Top, 1)
	if opts.Leaf {
		snap, err := Take(ctx, c, minor, opts.Snapshot)
		res.Pauses = append(res.Pauses, snap.Paused)
		if err != nil {
			return res, fmt.Errorf("snapshot of the leaf: %w", err)
		}
		res.Leaf = snap.Leaf
		if opts.Base != 0 {
			opts.Base++ // the snapshot pushed every layer one down
		}
	}
	done, err := c.Coalesce(ctx, minor, top, opts.Base)
	if err != nil {
		return res, err
	}
	res.Sectors, res.Merged = done.Sectors, done.Merged
	res.Pauses = append(res.Pauses, done.Paused)
	if opts.Remove {
		res.Removed, err = removeMerged(done.Merged)
	}
	return res, err
}

// removeMerged deletes the images that left the chain, except one that
// another process still opens (another chain's parent, a reader): the
// write lock tells, since every opener of ours or QEMU's denies writers.
func removeMerged(paths []string) (removed []string, err error) {
	var errs []error
	for _, p := range paths {
		if err := removeUnused(p); err != nil {
			errs = append(errs, err)
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}

func removeUnused(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("remove merged image: %w", err)
	}
	defer f.Close()
	if err := imagelock.Lock(f, imagelock.Exclusive); err != nil {
		return fmt.Errorf("keep merged image %s: %w", path, err)
	}
	// Removing the name while we hold the lock leaves no window for
	// another opener to find it.
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("remove merged image: %w", err)
	}
	return nil
}
