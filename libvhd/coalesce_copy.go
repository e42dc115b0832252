package libvhd

import (
	"context"
	"errors"
	"fmt"
)

// copyDown is the one copy behind Coalesce and Commit: what layers
// top..base-1 of im's chain hold goes into layer base.
func (im *Image) copyDown(ctx context.Context, top, base int, opts CoalesceOptions) (CoalesceResult, error) {
	var layers []layer
	for l := layer(im); l != nil; l = l.next() {
		layers = append(layers, l)
	}
	if top < 0 || base <= top || base >= len(layers) {
		return CoalesceResult{}, fmt.Errorf("merge layers %d..%d into %d of a chain of %d: %w", top, base-1, base, len(layers), ErrOutOfRange)
	}
	// Every layer above another one is a differencing VHD.
	src := layers[top].(*Image)
	dst := layers[base]
	res := CoalesceResult{Target: dst.name()}
	for _, l := range layers[top:base] {
		res.Merged = append(res.Merged, l.name())
	}
	if dst.size() < src.Size() {
		return res, fmt.Errorf("%w: %s (%d bytes) is smaller than %s (%d bytes): grow it first", ErrOutOfRange, dst.name(), dst.size(), src.path, src.Size())
	}
	t, err := openTarget(dst, im.fsys)
	if err != nil {
		return res, err
	}
	res.Sectors, err = src.copyHeld(ctx, t, base-top, opts)
	if err != nil {
		err = fmt.Errorf("coalesce %s into %s: %w", src.path, dst.name(), err)
	}
	return res, errors.Join(err, t.finish())
}

// copyHeld writes into t every run of the disk held by the first depth
// layers of src's chain, as src reads it, one block at a time: one read
// and one write per run. It returns the sectors copied.
func (src *Image) copyHeld(ctx context.Context, t target, depth int, opts CoalesceOptions) (int64, error) {
	size := src.Size()
	buf := make([]byte, src.blockSize)
	var exts []Extent
	var sectors int64
	for off := int64(0); off < size; off += src.blockSize {
		if err := ctx.Err(); err != nil {
			return sectors, err
		}
		n := min(src.blockSize, size-off)
		var err error
		if exts, err = src.appendExtents(exts[:0], off, n, 0); err != nil {
			return sectors, err
		}
		for _, e := range exts {
			if e.Layer == Unallocated || e.Layer >= depth {
				continue
			}
			p := buf[:e.Length]
			if err := src.readAt(p, e.Offset); err != nil {
				return sectors, fmt.Errorf("read %s at %d: %w", src.path, e.Offset, err)
			}
			if err := t.write(p, e.Offset, opts.Sparse); err != nil {
				return sectors, fmt.Errorf("write at %d: %w", e.Offset, err)
			}
			sectors += e.Length / SectorSize
		}
		if opts.Progress != nil {
			opts.Progress(off+n, size)
		}
	}
	return sectors, nil
}
