package libvhd

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// growBAT grows a sparse image whose BAT has no entry to spare, through a
// journal (journal.go). The BAT grows in place; the batmap and the parent
// locators that followed it are laid out again after it, and the blocks
// that lay where the new metadata goes are copied to the end of the file
// first. Every step is synced before the next:
//
//  1. the journal: the header, both footers, the BAT and every byte the
//     new metadata will cover, and the file's length;
//  2. the image disabled: both footers poisoned, naming the journal
//     (poison.go); the EOF footer also goes, poisoned, to the file's new
//     end, so the file always ends with a poisoned footer;
//  3. the blocks in the way copied to the end (their old places are not
//     reachable from anything yet: the BAT on disk is the old one);
//  4. the new BAT, batmap and locators, then the new header;
//  5. the image enabled: the new footers, the copy at offset 0 first, the
//     EOF footer (the commit point) last;
//  6. the journal removed.
//
// A crash before step 2 leaves the old image (and maybe a stale journal,
// which the next run replaces); from step 2 to the EOF footer of step 5,
// a disabled image that `vhd-util revert` puts back byte for byte; after
// it, the new image.
func growBAT(im *Image, size int64, opts ResizeOptions) error {
	if err := im.checkBlocks(im.measureMetadata(), OpenOptions{}); err != nil {
		return err
	}
	if err := im.checkTailClear(); err != nil {
		return err
	}
	p, err := planBATGrowth(im, size)
	if err != nil {
		return err
	}
	batOff := int64(im.header.TableOffset)
	w, err := createJournal(opts.FS, opts.Journal, im.footer.UUID, opResize, opts.Log)
	if err != nil {
		return err
	}
	spans := []span{
		{recHeader, int64(im.footer.DataOffset), HeaderSize},
		{recFooter, im.footerOff, FooterSize},
		{recFooter, 0, FooterSize},
		{recBAT, batOff, im.batEnd() - batOff},
		{recData, im.batEnd(), min(p.metaEnd, im.fileSize) - im.batEnd()},
	}
	if err := w.write(im.file, spans, im.fileSize); err != nil {
		return err
	}
	opts.Log(fmt.Sprintf("journaled the header, both footers, the BAT and %d bytes after it in %s", min(p.metaEnd, im.fileSize)-im.batEnd(), opts.Journal))

	if err := im.disable(opts.Journal, im.footerOff, 0, p.footerOff); err != nil {
		return err
	}
	// Close has nothing to write into the disabled image: the batmap on
	// disk will be the new one.
	im.batmap = nil
	if err := p.write(im); err != nil {
		return im.leftDisabled(err, opts.Journal)
	}
	opts.Log(fmt.Sprintf("moved %d blocks, wrote a BAT of %d entries", len(p.moves), p.header.MaxTableEntries))
	return im.enable(grownFooter(im, size), p.footerOff, opts)
}

// write moves the blocks, then writes the new metadata, header last, and
// syncs.
func (p *batGrowth) write(im *Image) error {
	if err := im.moveBlocks(p.moves); err != nil {
		return err
	}
	if _, err := im.file.WriteAt(p.meta, int64(im.header.TableOffset)); err != nil {
		return fmt.Errorf("write BAT: %w", err)
	}
	var hb [HeaderSize]byte
	p.header.put(hb[:])
	if err := writeSynced(im.file, hb[:], int64(im.footer.DataOffset)); err != nil {
		return fmt.Errorf("write header: %w", err)
	}
	return nil
}

// batGrowth is the new layout of a sparse image's metadata.
type batGrowth struct {
	header    Header
	meta      []byte // from the BAT's offset: BAT, batmap header and map, locator data
	metaEnd   int64
	moves     []blockMove
	footerOff int64 // the EOF footer's new place
}

type blockMove struct{ from, to int64 }

// planBATGrowth lays out the BAT for size, the batmap and the locators
// after it, and the moves of the blocks in their way.
func planBATGrowth(im *Image, size int64) (*batGrowth, error) {
	entries := uint32((size + im.blockSize - 1) / im.blockSize)
	batOff := int64(im.header.TableOffset)
	p := &batGrowth{header: im.header, meta: make([]byte, roundUp(4*int64(entries), SectorSize))}
	p.header.MaxTableEntries = entries
	bat := slices.Clone(im.bat)
	if im.footer.hasBatmap() {
		p.meta = append(p.meta, newBatmap(im, entries, batOff+int64(len(p.meta)))...)
	}
	for i, l := range p.header.Locators {
		if l.Code == LocatorNone {
			continue
		}
		if int64(l.DataLen) > l.SpaceBytes() {
			return nil, fmt.Errorf("parent locator %d: %d bytes do not fit its space of %d", i, l.DataLen, l.SpaceBytes())
		}
		data, err := readLocatorData(im.file, im.fileSize, l)
		if err != nil {
			return nil, fmt.Errorf("parent locator %d: %w", i, err)
		}
		data = append(data, make([]byte, roundUp(int64(len(data)), SectorSize)-int64(len(data)))...)
		p.header.Locators[i] = Locator{Code: l.Code, DataSpace: uint32(len(data)), DataLen: l.DataLen, DataOffset: uint64(batOff + int64(len(p.meta)))}
		p.meta = append(p.meta, data...)
	}
	p.metaEnd = batOff + int64(len(p.meta))
	if hdr := int64(im.footer.DataOffset); hdr < p.metaEnd && hdr+HeaderSize > batOff {
		return nil, fmt.Errorf("the dynamic header at %#x lies after the BAT, where the BAT must grow", hdr)
	}

	// The blocks in the way go past everything, in the order they lie.
	blockLen := im.bmSize + im.blockSize
	base := max(im.dataEnd, im.fileSize, p.metaEnd)
	var order []int
	for blk, e := range im.bat {
		if pos := int64(e) * SectorSize; e != unallocated && pos < p.metaEnd && pos+blockLen > batOff {
			order = append(order, blk)
		}
	}
	slices.SortFunc(order, func(a, b int) int { return int(im.bat[a]) - int(im.bat[b]) })
	end := max(im.dataEnd, p.metaEnd)
	for _, blk := range order {
		to := roundUp(base+im.bmSize, blockAlign) - im.bmSize
		if to > maxBlockOffset {
			return nil, fmt.Errorf("move block %d: file would pass 2 TiB, beyond what a BAT entry can address", blk)
		}
		p.moves = append(p.moves, blockMove{int64(im.bat[blk]) * SectorSize, to})
		bat[blk] = uint32(to / SectorSize)
		base = to + blockLen
		end = base
	}
	// The last sector's padding as create writes it: all ones.
	for i := range roundUp(4*int64(entries), SectorSize) / 4 {
		e := uint32(unallocated)
		if i < int64(len(bat)) {
			e = bat[i]
		}
		binary.BigEndian.PutUint32(p.meta[4*i:], e)
	}
	p.footerOff = max(end, im.footerOff)
	return p, nil
}

// newBatmap is the batmap header and map for entries blocks, the header
// at off: the old map's bits (none past the old BAT) and marker kept.
func newBatmap(im *Image, entries uint32, off int64) []byte {
	h := BatmapHeader{Cookie: batmapCookie, Version: batmapVersion}
	bits := make([]byte, int64(batmapSectors(entries))*SectorSize)
	if b := im.batmap; b != nil {
		h = b.header
		for i := range im.bat {
			if testBit(b.bits, i) {
				setBit(bits, i)
			}
		}
	}
	h.MapOffset, h.MapSectors = uint64(off+batmapHeaderSize), batmapSectors(entries)
	h.Checksum = batmapChecksum(bits)
	out := make([]byte, batmapHeaderSize, batmapHeaderSize+len(bits))
	h.put(out)
	return append(out, bits...)
}

// moveBlocks copies each block, bitmap and data, to its new place, and
// syncs.
func (im *Image) moveBlocks(moves []blockMove) error {
	buf := make([]byte, im.bmSize+im.blockSize)
	for _, m := range moves {
		if err := readFull(im.file, buf, m.from); err != nil {
			return fmt.Errorf("read block at %#x: %w", m.from, err)
		}
		if _, err := im.file.WriteAt(buf, m.to); err != nil {
			return fmt.Errorf("move block to %#x: %w", m.to, err)
		}
	}
	return im.file.Sync()
}
