package vhd

import (
	"context"
	"fmt"
	"syscall"

	"gotap.dev/libtap/disk"
	"gotap.dev/libvhd"
)

// Commit merges layers top..base-1 of the chain into layer base (0: the
// last) while the disk serves: libvhd copies what they hold into base,
// which the chain reads through them anyway, so no reader sees a change.
// Relink then points layer top-1 at base (libvhd.SetParent, as `vhd-util
// modify -p` does), once the chain is closed.
func (d *Disk) Commit(ctx context.Context, top, base int, progress func(done, total int64)) (disk.Commit, error) {
	layers := d.im.Counts() // the chain from the leaf down, a raw parent last
	if base == 0 {
		base = len(layers) - 1
	}
	if top < 1 || base <= top || base >= len(layers) {
		return disk.Commit{}, fmt.Errorf("layers %d to %d into %d: the chain has %d images (0 the leaf): %w", top, base-1, base, len(layers), syscall.EINVAL)
	}
	res, err := d.im.Commit(ctx, top, base, libvhd.CoalesceOptions{Progress: progress})
	if err != nil {
		return disk.Commit{}, errno(err)
	}
	child, parent := layers[top-1], layers[base]
	return disk.Commit{
		Sectors: res.Sectors,
		Merged:  res.Merged,
		Relink: func() error {
			return libvhd.SetParent(child.Path, parent.Path, parent.Raw, nil, d.parentDirs...)
		},
	}, nil
}
