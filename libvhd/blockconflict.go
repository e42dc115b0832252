package libvhd

import (
	"fmt"
	"slices"
)

// Where a block may lie. A block (its sector bitmap, then its data) must
// overlap no metadata (footer copy, dynamic header, BAT, batmap, locator
// data), no other block, and end before the EOF footer. Served for
// writing, a block over metadata turns guest writes into damage to the
// image's own structures, two blocks over each other let a write to one
// disk sector land in another, and a block over the EOF footer loses it.
// Open refuses a writable image with such a block (open.go); Check
// reports every one (check_bat.go).
//
// Nor may metadata lie over other metadata: the BAT is written as blocks
// are allocated, the batmap at close, the footer copy, header and locator
// data by maintenance operations, and each would destroy what it covers.
// Open refuses such an image for writing too; Check reports it.

// region is a named byte range [off, end) of the file.
type region struct {
	name     string
	off, end int64
}

// blockConflict is a block lying where it must not.
type blockConflict struct {
	block    int
	off, end int64
	// What it lies over: a metadata region, another block (withBlock ≥
	// 0), or, with pastFooter, the EOF footer at with.off.
	with       region
	withBlock  int
	pastFooter bool
}

// format is the conflict's message format, which names its kind (Check
// counts problems by kind); args are its values. Apart, so that a
// conflict only counted costs no allocation.
func (c blockConflict) format() string {
	switch {
	case c.pastFooter:
		return "block %d at %#x-%#x runs past the EOF footer at %#x"
	case c.withBlock >= 0:
		return "block %d at %#x-%#x overlaps block %d at %#x-%#x"
	}
	return "block %d at %#x-%#x overlaps the %s at %#x-%#x"
}

func (c blockConflict) args() []any {
	switch {
	case c.pastFooter:
		return []any{c.block, c.off, c.end, c.with.off}
	case c.withBlock >= 0:
		return []any{c.block, c.off, c.end, c.withBlock, c.with.off, c.with.end}
	}
	return []any{c.block, c.off, c.end, c.with.name, c.with.off, c.with.end}
}

func (c blockConflict) String() string { return fmt.Sprintf(c.format(), c.args()...) }

// findBlockConflicts calls fn with each conflict of the blocks bat
// places, blockLen bytes each, in the order of their offsets, until fn
// returns false. footerOff < 0 skips the footer check. A block that
// overlaps several others is reported once, against the one before it
// reaching furthest.
func findBlockConflicts(bat []uint32, blockLen int64, meta []region, footerOff int64, fn func(blockConflict) bool) {
	reach := blockConflict{withBlock: -1, end: -1} // the block reaching furthest so far
	for _, k := range blocksByOffset(bat) {
		off := k.sector() * SectorSize
		b := blockConflict{block: k.block(), off: off, end: off + blockLen, withBlock: -1}
		if footerOff >= 0 && b.end > footerOff {
			c := b
			c.with, c.pastFooter = region{"EOF footer", footerOff, footerOff + FooterSize}, true
			if !fn(c) {
				return
			}
		}
		for _, m := range meta {
			if b.off < m.end && m.off < b.end {
				c := b
				c.with = m
				if !fn(c) {
					return
				}
			}
		}
		if b.off < reach.end {
			c := b
			c.with, c.withBlock = region{off: reach.off, end: reach.end}, reach.block
			if !fn(c) {
				return
			}
		}
		if b.end > reach.end {
			reach = b
		}
	}
}

// findMetaConflict returns the first region of regions that lies over
// one before it, and that one.
func findMetaConflict(regions []region) (r, under region, ok bool) {
	for i, r := range regions {
		for _, m := range regions[:i] {
			if r.off < m.end && m.off < r.end {
				return r, m, true
			}
		}
	}
	return region{}, region{}, false
}

// blockKey is an allocated BAT entry's sector above its index: sorting
// the keys sorts the blocks by offset.
type blockKey uint64

func (k blockKey) sector() int64 { return int64(k >> 32) }
func (k blockKey) block() int    { return int(uint32(k)) }

// blocksByOffset is bat's allocated blocks in the order of their offsets.
// The sort of the keys (8 bytes each) keeps it O(n log n) in the table's
// size, whatever the table holds.
func blocksByOffset(bat []uint32) []blockKey {
	n := 0
	for _, e := range bat {
		if e != unallocated {
			n++
		}
	}
	keys := make([]blockKey, 0, n)
	for i, e := range bat {
		if e != unallocated {
			keys = append(keys, blockKey(uint64(e)<<32|uint64(i)))
		}
	}
	slices.Sort(keys)
	return keys
}
