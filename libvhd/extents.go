package libvhd

import "fmt"

// Unallocated is the Layer of an extent no image in the chain holds: it
// reads as zeros.
const Unallocated = -1

// Extent is a run of the virtual disk held by one layer of the chain.
type Extent struct {
	Offset, Length int64
	// Layer is 0 for the image asked, 1 for its parent, and so on, or
	// Unallocated.
	Layer int
}

// AppendExtents appends the allocation map of [off, off+n) (clipped to the
// disk) to dst, adjacent runs of one layer merged, at sector granularity.
func (im *Image) AppendExtents(dst []Extent, off, n int64) ([]Extent, error) {
	if off < 0 || n < 0 {
		return dst, fmt.Errorf("extents at %d+%d: %w", off, n, ErrOutOfRange)
	}
	n = max(min(n, im.Size()-off), 0)
	return im.appendExtents(dst, off, n, 0)
}

// appendExtents is the layer method: it locks this image.
func (im *Image) appendExtents(dst []Extent, off, n int64, depth int) ([]Extent, error) {
	if im.footer.Type == Fixed {
		return appendExtent(dst, Extent{off, n, depth}), nil
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	for n > 0 {
		blk, in := int(off/im.blockSize), off%im.blockSize
		c := min(n, im.blockSize-in)
		var err error
		dst, err = im.blockExtentsLocked(dst, blk, in, c, depth)
		if err != nil {
			return dst, err
		}
		off, n = off+c, n-c
	}
	return dst, nil
}

func (im *Image) blockExtentsLocked(dst []Extent, blk int, in, n int64, depth int) ([]Extent, error) {
	virt := int64(blk)*im.blockSize + in
	if im.bat[blk] == unallocated {
		return im.extentsBelow(dst, virt, n, depth)
	}
	if im.blockFull(blk) {
		return appendExtent(dst, Extent{virt, n, depth}), nil
	}
	s, err := im.bitmapLocked(blk)
	if err != nil {
		return dst, err
	}
	for i := int64(0); i < n; {
		sec := int((in + i) / SectorSize)
		set := testBit(s.bits, sec)
		end := sec + 1
		for int64(end)*SectorSize < in+n && testBit(s.bits, end) == set {
			end++
		}
		j := min(int64(end)*SectorSize-in, n)
		if set {
			dst = appendExtent(dst, Extent{virt + i, j - i, depth})
		} else if dst, err = im.extentsBelow(dst, virt+i, j-i, depth); err != nil {
			return dst, err
		}
		i = j
	}
	return dst, nil
}

// extentsBelow maps a range this image does not hold.
func (im *Image) extentsBelow(dst []Extent, off, n int64, depth int) ([]Extent, error) {
	p := im.parent
	if p == nil {
		return appendExtent(dst, Extent{off, n, Unallocated}), nil
	}
	in := max(min(n, p.size()-off), 0)
	var err error
	if in > 0 {
		if dst, err = p.appendExtents(dst, off, in, depth+1); err != nil {
			return dst, err
		}
	}
	return appendExtent(dst, Extent{off + in, n - in, Unallocated}), nil
}

// appendExtent appends e, merging it with the last extent when they touch
// and share a layer.
func appendExtent(dst []Extent, e Extent) []Extent {
	if e.Length <= 0 {
		return dst
	}
	if k := len(dst) - 1; k >= 0 && dst[k].Layer == e.Layer && dst[k].Offset+dst[k].Length == e.Offset {
		dst[k].Length += e.Length
		return dst
	}
	return append(dst, e)
}
