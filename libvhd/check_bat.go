package libvhd

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// readBAT loads the table after checking that it lies inside the file.
func (c *checker) readBAT(h Header) (bat []uint32, ok bool, err error) {
	off, n := int64(h.TableOffset), int64(h.MaxTableEntries)
	end := off + roundUp(4*n, SectorSize)
	if h.TableOffset%SectorSize != 0 || h.TableOffset > uint64(c.size) || off+4*n > c.footerOff {
		c.add("header", int64(c.footer.DataOffset), "BAT at %#x with %d entries does not fit before the footer at %#x", h.TableOffset, n, c.footerOff)
		return nil, false, nil
	}
	raw := make([]byte, 4*n)
	if err := readFull(c.f, raw, off); err != nil {
		return nil, false, fmt.Errorf("read BAT: %w", err)
	}
	bat = make([]uint32, n)
	for i := range bat {
		bat[i] = binary.BigEndian.Uint32(raw[4*i:])
	}
	c.addRegion("header", int64(c.footer.DataOffset), region{"BAT", off, end})
	return bat, true, nil
}

// addRegion records metadata region r, reporting under where (at offset
// at) each one recorded before that it lies over (blockconflict.go).
func (c *checker) addRegion(where string, at int64, r region) {
	for _, m := range c.regions {
		if r.off < m.end && m.off < r.end {
			c.add(where, at, "%s at %#x-%#x overlaps the %s at %#x-%#x", r.name, r.off, r.end, m.name, m.off, m.end)
		}
	}
	c.regions = append(c.regions, r)
}

// checkOverlaps reports every block lying over metadata, over another
// block or past the EOF footer (blockconflict.go), unless NoOverlap, and
// returns them as a bit per BAT entry: the bitmap and data checks skip
// them, as their bytes belong to something else, and as reading one
// block a million times over would make the check's time grow with the
// table rather than with the file.
func (c *checker) checkOverlaps(h Header, bat []uint32) []byte {
	bad := make([]byte, (len(bat)+7)/8)
	findBlockConflicts(bat, bitmapSize(h.BlockSize)+int64(h.BlockSize), c.regions, c.footerOff, func(b blockConflict) bool {
		setBit(bad, b.block)
		if format := b.format(); !c.opts.NoOverlap && c.counted("bat", format) {
			c.list("bat", int64(h.TableOffset)+4*int64(b.block), format, b.args()...)
		}
		return true
	})
	return bad
}

// checkBatmapHeader checks blktap's batmap when the creator promises one
// and returns the map, nil if there is none to check further.
func (c *checker) checkBatmapHeader(h Header, entries int) ([]byte, error) {
	if !c.footer.hasBatmap() {
		return nil, nil
	}
	off := int64(h.TableOffset) + roundUp(4*int64(entries), SectorSize)
	var buf [batmapHeaderSize]byte
	if off+batmapHeaderSize > c.footerOff {
		c.add("batmap", off, "missing: no room between the BAT and the footer (creator tap %#x promises one)", c.footer.CreatorVersion)
		return nil, nil
	}
	if err := readFull(c.f, buf[:], off); err != nil {
		return nil, fmt.Errorf("read batmap header: %w", err)
	}
	bh, ok := ParseBatmapHeader(buf[:])
	if !ok {
		c.add("batmap", off, "cookie %q, want tdbatmap (creator tap %#x promises a batmap)", printable(bh.Cookie[:]), c.footer.CreatorVersion)
		return nil, nil
	}
	c.addRegion("batmap", off, region{"batmap header", off, off + batmapHeaderSize})
	if bh.Version != batmapVersion {
		c.add("batmap", off, "version %#08x, want 0x00010002", bh.Version)
	}
	mapOff, mapLen := int64(bh.MapOffset), int64(bh.MapSectors)*SectorSize
	if bh.MapOffset%SectorSize != 0 || bh.MapOffset > uint64(c.footerOff) || mapOff+mapLen > c.footerOff || mapLen < (int64(entries)+7)/8 {
		c.add("batmap", off, "map of %d sectors at %#x does not hold %d bits before the footer", bh.MapSectors, bh.MapOffset, entries)
		return nil, nil
	}
	c.addRegion("batmap", off, region{"batmap", mapOff, mapOff + mapLen})
	m := make([]byte, mapLen)
	if err := readFull(c.f, m, mapOff); err != nil {
		return nil, fmt.Errorf("read batmap: %w", err)
	}
	if sum := batmapChecksum(m); sum != bh.Checksum {
		c.add("batmap", off, "checksum %#08x, but the map sums to %#08x", bh.Checksum, sum)
		return nil, nil
	}
	return m, nil
}

// checkBatmapBits: a full bit promises a block whose bitmap is all ones.
// Blocks marked bad (checkOverlaps) are not read.
func (c *checker) checkBatmapBits(h Header, bat []uint32, m, bad []byte) error {
	bm := make([]byte, bitmapSize(h.BlockSize))
	full := int(h.BlockSize / SectorSize / 8)
	for i, e := range bat {
		if !testBit(m, i) {
			continue
		}
		if e == unallocated {
			c.add("batmap", int64(h.TableOffset), "block %d is marked full but is not allocated", i)
			continue
		}
		if !c.opts.Bitmaps || testBit(bad, i) {
			continue
		}
		if err := readBitmap(c.f, c.footer.oldBitOrder(), bm, int64(e)*SectorSize); err != nil {
			return fmt.Errorf("read bitmap of block %d: %w", i, err)
		}
		if slices.ContainsFunc(bm[:full], func(b byte) bool { return b != 0xFF }) {
			c.add("batmap", int64(e)*SectorSize, "block %d is marked full but its bitmap is not", i)
		}
	}
	for i := len(bat); i < 8*len(m); i++ {
		if testBit(m, i) {
			c.add("batmap", int64(h.TableOffset), "bit %d is set beyond the %d blocks of the table", i, len(bat))
			break
		}
	}
	return nil
}
