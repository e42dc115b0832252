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
// and one write per run. A goroutine reads the next blocks while this one
// writes (the two overlap, on two cores). It returns the sectors copied.
func (src *Image) copyHeld(ctx context.Context, t target, depth int, opts CoalesceOptions) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	full := make(chan heldBlock, copyAhead)
	free := make(chan []byte, copyAhead)
	for range copyAhead {
		free <- make([]byte, src.blockSize)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer close(full)
		src.readHeld(ctx, depth, free, full)
	}()
	defer func() { cancel(); <-done }()
	size := src.Size()
	var sectors, reached int64
	for b := range full {
		if b.err == nil {
			b.err = ctx.Err()
		}
		if b.err != nil {
			return sectors, b.err
		}
		for _, e := range b.runs {
			if err := t.write(b.buf[e.Offset-b.off:][:e.Length], e.Offset, opts.Sparse); err != nil {
				return sectors, fmt.Errorf("write at %d: %w", e.Offset, err)
			}
			sectors += e.Length / SectorSize
		}
		free <- b.buf
		reached = b.end
		if opts.Progress != nil {
			opts.Progress(b.end, size)
		}
	}
	if reached < size {
		// The reader stopped early: ctx is done.
		return sectors, ctx.Err()
	}
	return sectors, nil
}

// copyAhead is how many blocks are read ahead of the writes, plus one.
const copyAhead = 3

// heldBlock is one block of the disk read: buf holds the runs at their
// places in the block starting at off; end is where the next one starts.
type heldBlock struct {
	buf      []byte
	off, end int64
	runs     []Extent
	err      error
}

// readHeld reads block after block into the buffers of free and sends
// them on full, until the disk ends, ctx is done or a read fails (sent
// as the last block's err).
func (src *Image) readHeld(ctx context.Context, depth int, free <-chan []byte, full chan<- heldBlock) {
	size := src.Size()
	for off := int64(0); off < size; off += src.blockSize {
		b := heldBlock{off: off, end: min(off+src.blockSize, size)}
		select {
		case b.buf = <-free:
		case <-ctx.Done():
			return
		}
		exts, err := src.appendExtents(nil, off, b.end-off, 0)
		for _, e := range exts {
			if err != nil {
				break
			}
			if e.Layer == Unallocated || e.Layer >= depth {
				continue
			}
			if err = src.readAt(b.buf[e.Offset-off:][:e.Length], e.Offset); err != nil {
				err = fmt.Errorf("read %s at %d: %w", src.path, e.Offset, err)
			}
			b.runs = append(b.runs, e)
		}
		b.err = err
		select {
		case full <- b:
		case <-ctx.Done():
			return
		}
		if err != nil {
			return
		}
	}
}
