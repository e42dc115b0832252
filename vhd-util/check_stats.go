package main

import (
	"fmt"
	"math/bits"
	"path/filepath"

	"gotap.dev/libvhd"
)

// imageStats is what check -s counts of one image: sectors in allocated
// blocks, sectors written (bitmap bits set), and the bitmaps themselves
// (by block; in the standard bit order) to compare with the parent's.
type imageStats struct {
	Name      string `json:"name"`
	Allocated int64  `json:"secs_allocated"`
	Written   int64  `json:"secs_written"`
	// With a parent scanned: sectors written here but not in the parent,
	// and not in any ancestor.
	NotInParent    *int64 `json:"secs_not_in_parent,omitempty"`
	NotInAncestors *int64 `json:"secs_not_in_ancestors,omitempty"`
	bitmaps        map[int][]byte
}

func collectStats(im *libvhd.Image) (imageStats, error) {
	s := imageStats{Name: im.Path(), bitmaps: map[int][]byte{}}
	if im.Type() == libvhd.Fixed {
		return s, nil
	}
	spb := im.BlockSize() / libvhd.SectorSize
	for blk := range im.BlockCount() {
		bm, err := im.Bitmap(blk)
		if err != nil {
			return s, fmt.Errorf("%s: bitmap of block %d: %w", im.Path(), blk, err)
		}
		if bm == nil {
			continue
		}
		s.Allocated += spb
		s.Written += popCount(bm)
		s.bitmaps[blk] = bm
	}
	return s, nil
}

// statsLines are blktap's lines, the deepest parent first: chain holds
// the images from the child down.
func statsLines(chain []imageStats) []string {
	var out []string
	var ancestors map[int][]byte // union of the bitmaps printed so far
	for i := len(chain) - 1; i >= 0; i-- {
		s := &chain[i]
		line := fmt.Sprintf("%s: secs allocated: %#x secs written: %#x (%s)", filepath.Base(s.Name), s.Allocated, s.Written, pct(s.Written, s.Allocated))
		if i < len(chain)-1 {
			parent := chain[i+1].bitmaps
			var up, uc int64
			for blk, bm := range s.bitmaps {
				up += popCount(andNot(bm, parent[blk]))
				uc += popCount(andNot(bm, ancestors[blk]))
			}
			s.NotInParent, s.NotInAncestors = &up, &uc
			line += fmt.Sprintf(" secs not in parent: %#x (%s) secs not in ancestors: %#x (%s)", up, pct(up, s.Written), uc, pct(uc, s.Written))
		}
		ancestors = union(ancestors, s.bitmaps)
		out = append(out, line)
	}
	return out
}

// pct is blktap's percentage: a C float quotient, times 100 in double,
// returned as a float, printed "%.2f%%".
func pct(n, d int64) string {
	var p float32
	if d != 0 {
		p = float32(float64(float32(n)/float32(d)) * 100)
	}
	return fmt.Sprintf("%.2f%%", p)
}

func popCount(b []byte) int64 {
	var n int
	for _, x := range b {
		n += bits.OnesCount8(x)
	}
	return int64(n)
}

// andNot is a &^ b, b possibly nil (nothing set).
func andNot(a, b []byte) []byte {
	out := append([]byte(nil), a...)
	for i := range min(len(a), len(b)) {
		out[i] &^= b[i]
	}
	return out
}

func union(into, from map[int][]byte) map[int][]byte {
	if into == nil {
		into = map[int][]byte{}
	}
	for blk, bm := range from {
		u := append([]byte(nil), into[blk]...)
		if len(u) < len(bm) {
			u = append(u, make([]byte, len(bm)-len(u))...)
		}
		for i, x := range bm {
			u[i] |= x
		}
		into[blk] = u
	}
	return into
}
