package libvhd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
)

// MaxChainDepth bounds parent chains, so a loop of locators cannot recurse
// forever or exhaust file descriptors.
const MaxChainDepth = 256

// OpenOptions tune Open.
type OpenOptions struct {
	ReadOnly bool
	// NoParent leaves a differencing image's parent unopened: reads of
	// sectors not in this file then fail. For inspection tools.
	NoParent bool
	// BitmapCache is the bytes of sector bitmaps kept in memory
	// (default 1 MiB).
	BitmapCache int
	FS          FS // default OSFS
	// NoLock takes no image lock: for inspection tools, which must work on
	// an image a tapdisk or a VM is writing (as qemu-img's -U). Without
	// it a writable open takes the image exclusively and a read-only one
	// (and every parent) shared, so no writer changes it meanwhile; see
	// package imagelock.
	NoLock bool
	// DeferMetadata keeps the sector bitmaps and BAT entries of new writes
	// in memory until Flush (or a full bitmap cache) writes them: fewer
	// writes and syncs, but a write acknowledged since the last Flush is
	// lost if the process dies. By default they reach the file before
	// WriteAt returns, so a completed write survives the process (see
	// flush.go for what survives a power cut).
	DeferMetadata bool
	// ParentDirs are folders allowed to hold parents beside the child's
	// own, with those of $GOTAP_PARENT_DIRS (see parentpolicy.go).
	ParentDirs []string
	// AllowDisabled (with ReadOnly) opens an image an unfinished
	// journaled operation disabled, with a warning, for inspection tools
	// (query, scan, read) only: it may be half changed.
	AllowDisabled bool
	// maintenance accepts, for writing, an image with a block over
	// metadata or another block: the operations of maintain.go write
	// metadata only, and empty the BAT among them.
	maintenance bool
}

// Open opens a VHD image and, unless opts.NoParent, its parent chain
// (always read-only).
func Open(path string, opts OpenOptions) (*Image, error) {
	return openDepth(path, opts, 1)
}

func openDepth(path string, opts OpenOptions, depth int) (*Image, error) {
	if depth > MaxChainDepth {
		return nil, fmt.Errorf("open %s: %w (more than %d images)", path, ErrChainTooDeep, MaxChainDepth)
	}
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	flag := os.O_RDWR
	if opts.ReadOnly {
		flag = os.O_RDONLY
	}
	f, err := opts.FS.OpenFile(path, flag, 0)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	if err := lockImage(f, opts); err != nil {
		f.Close()
		return nil, err
	}
	im := &Image{path: path, file: f, fsys: opts.FS, readOnly: opts.ReadOnly, deferMetadata: opts.DeferMetadata, parentDirs: opts.ParentDirs}
	if err := im.load(opts, depth); err != nil {
		f.Close()
		if im.parent != nil {
			im.parent.close()
		}
		var fe *FormatError
		if errors.As(err, &fe) && fe.Path == "" {
			fe.Path = path
			return nil, fe
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return im, nil
}

func (im *Image) load(opts OpenOptions, depth int) error {
	size, devSize, err := imageSize(im.file, im.path)
	if err != nil {
		return fmt.Errorf("size: %w", err)
	}
	im.fileSize, im.devSize = size, devSize
	if err := im.readFooter(size, opts); err != nil {
		return err
	}
	if err := im.footer.Validate(); err != nil {
		return err
	}
	im.footer.put(im.footerBuf[:])
	if im.footer.Type == Fixed {
		if int64(im.footer.CurrentSize) > im.footerOff {
			return formatErr("footer.current_size", im.footer.CurrentSize, ErrTruncated)
		}
		return nil
	}
	if err := im.readHeader(opts); err != nil {
		return err
	}
	if err := im.readBAT(); err != nil {
		return err
	}
	im.readBatmap()
	meta := im.measureMetadata()
	if err := im.checkMetadata(meta); err != nil {
		return err
	}
	if err := im.checkBlocks(meta, opts); err != nil {
		return err
	}
	im.cache = newBitmapCache(len(im.bat), int(im.bmSize), opts.BitmapCache)
	im.dirty.init(len(im.bat))
	im.findBitmapPages()
	if im.footer.Type == Differencing && !opts.NoParent {
		return im.openParent(opts, depth)
	}
	return nil
}

// readFooter takes the EOF footer, else the 511-byte form old producers
// wrote, else the copy at offset 0; it says so when it falls back. A
// poisoned footer, at the end or (the end cut short) at offset 0, is a
// disabled image (poison.go).
func (im *Image) readFooter(size int64, opts OpenOptions) error {
	if size < FooterSize-1 {
		return formatErr("file size", size, ErrTruncated)
	}
	var buf [FooterSize]byte
	var eofErr error
	for _, n := range []int64{FooterSize, FooterSize - 1} {
		if size < n {
			continue
		}
		if err := readFull(im.file, buf[:n], size-n); err != nil {
			return fmt.Errorf("read footer: %w", err)
		}
		f, err := ParseFooter(buf[:n])
		if err == nil {
			im.footer, im.footerOff = f, size-n
			if n != FooterSize {
				im.warn("EOF footer is 511 bytes long (an old producer's form)")
			}
			return nil
		}
		if eofErr == nil {
			eofErr = err
		}
		if errors.Is(err, ErrPoisoned) {
			return im.disabled(buf[:n], size-n, opts)
		}
	}
	if err := readFull(im.file, buf[:], 0); err != nil {
		return fmt.Errorf("read footer copy: %w", err)
	}
	f, err := ParseFooter(buf[:])
	if errors.Is(err, ErrPoisoned) {
		return im.disabled(buf[:], max(size-FooterSize, 0)&^(SectorSize-1), opts)
	}
	if err != nil || f.Type == Fixed {
		return &FormatError{Offset: size - FooterSize, Field: "footer", Err: fmt.Errorf("%w: at end of file: %w; copy at offset 0 unusable too", ErrNoFooter, eofErr)}
	}
	im.footer = f
	// The new EOF footer goes where the damaged one was, or after the last
	// block if the file was cut short (fixed up in measureMetadata).
	im.footerOff = max(size-FooterSize, 0) &^ (SectorSize - 1)
	im.repairEOF = true
	im.warn(fmt.Sprintf("EOF footer damaged (%v): using the copy at offset 0", eofErr))
	return nil
}

// readHeader validates the dynamic header's fields before its checksum and
// extent, so that a damaged header still reports what is wrong with what
// it says (the missing bytes of a cut-off header read as zeros, as in
// QEMU): a fuzzed file with an absurd table size is refused for that.
// AllowDisabled takes the header of an image vhd-update disabled.
func (im *Image) readHeader(opts OpenOptions) error {
	off := int64(im.footer.DataOffset)
	if im.footer.DataOffset >= uint64(im.fileSize) {
		return &FormatError{Offset: -1, Field: "footer.data_offset", Value: im.footer.DataOffset, Err: ErrTruncated}
	}
	var buf [HeaderSize]byte
	if err := readFull(im.file, buf[:], off); err != nil {
		return fmt.Errorf("read dynamic header: %w", err)
	}
	h, err := ParseHeader(buf[:])
	if !errors.Is(err, ErrHeaderCookie) {
		// The most specific problem first: a field out of range, then a
		// checksum or length that merely says "damaged".
		v := h
		if opts.AllowDisabled && opts.ReadOnly && v.Version == disabledHeaderVersion {
			v.Version = headerVersion
			im.warn("disabled by an unfinished vhd-update (header version 0xffffffff)")
		}
		if verr := v.Validate(im.footer.CurrentSize); verr != nil {
			err = verr
		}
	}
	if err == nil && off+HeaderSize > im.fileSize {
		err = formatErr("header", im.fileSize-off, ErrTruncated)
	}
	if err != nil {
		var fe *FormatError
		if errors.As(err, &fe) {
			fe.Offset = off
		}
		return err
	}
	im.header = h
	im.blockSize = int64(h.BlockSize)
	im.bmSize = bitmapSize(h.BlockSize)
	return nil
}

// readBAT loads the table; its extent is checked against the file first,
// so a hostile header cannot make us allocate more than the file holds.
func (im *Image) readBAT() error {
	n := int64(im.header.MaxTableEntries)
	off := int64(im.header.TableOffset)
	if im.header.TableOffset > uint64(im.fileSize) || off+4*n > im.fileSize {
		return &FormatError{Offset: -1, Field: "header.table_offset", Value: im.header.TableOffset, Err: ErrTruncated}
	}
	raw := make([]byte, 4*n)
	if err := readFull(im.file, raw, off); err != nil {
		return fmt.Errorf("read BAT: %w", err)
	}
	im.bat = make([]uint32, n)
	for i := range im.bat {
		e := binary.BigEndian.Uint32(raw[4*i:])
		if e != unallocated && int64(e)*SectorSize+im.bmSize > im.fileSize {
			return &FormatError{Offset: off + 4*int64(i), Field: fmt.Sprintf("bat[%d]", i), Value: e, Err: ErrBATEntry}
		}
		im.bat[i] = e
	}
	return nil
}

// batOffset is the end of the BAT, padded to a sector: where blktap puts
// its batmap header.
func (im *Image) batEnd() int64 {
	return int64(im.header.TableOffset) + roundUp(4*int64(len(im.bat)), SectorSize)
}

// readBatmap loads blktap's batmap when the creator promises one. A
// missing or damaged batmap is not fatal: an empty map is always safe, and
// a writable open rewrites it at close.
func (im *Image) readBatmap() {
	if !im.footer.hasBatmap() {
		return
	}
	off := im.batEnd()
	var buf [batmapHeaderSize]byte
	if off+batmapHeaderSize > im.fileSize || readFull(im.file, buf[:], off) != nil {
		im.warn("batmap missing")
		return
	}
	h, ok := ParseBatmapHeader(buf[:])
	if !ok {
		im.warn("batmap missing (no tdbatmap cookie after the BAT)")
		return
	}
	need := int64(batmapSectors(uint32(len(im.bat)))) * SectorSize
	size := int64(h.MapSectors) * SectorSize
	mapOff := int64(h.MapOffset)
	if h.MapOffset > uint64(im.fileSize) || size < (int64(len(im.bat))+7)/8 || size > need+SectorSize || mapOff+size > im.fileSize {
		im.warn(fmt.Sprintf("batmap ignored: map of %d sectors at %#x does not fit", h.MapSectors, h.MapOffset))
		return
	}
	b := &batmap{header: h, offset: off, bits: make([]byte, size)}
	im.batmap = b
	if err := readFull(im.file, b.bits, mapOff); err != nil {
		im.warn(fmt.Sprintf("batmap ignored: %v", err))
		clear(b.bits)
		b.changed = true
		return
	}
	if batmapChecksum(b.bits) != h.Checksum {
		im.warn("batmap checksum mismatch: map ignored (rewritten at close)")
		clear(b.bits)
		b.changed = true
	}
}

// measureMetadata finds the end of everything already in the file, where
// the next block may start, and checks that the locators lie in the file.
// It returns the metadata's regions, for checkBlocks.
func (im *Image) measureMetadata() []region {
	hdr := int64(im.footer.DataOffset)
	meta := []region{{"footer copy", 0, FooterSize}, {"dynamic header", hdr, hdr + HeaderSize}, {"BAT", int64(im.header.TableOffset), im.batEnd()}}
	end := max(hdr+HeaderSize, im.batEnd())
	if b := im.batmap; b != nil {
		mapOff := int64(b.header.MapOffset)
		meta = append(meta, region{"batmap header", b.offset, b.offset + batmapHeaderSize}, region{"batmap", mapOff, mapOff + int64(len(b.bits))})
		end = max(end, b.offset+batmapHeaderSize, mapOff+int64(len(b.bits)))
	}
	for i, l := range im.header.Locators {
		if l.Code == LocatorNone {
			continue
		}
		if l.DataOffset > uint64(im.fileSize) || int64(l.DataOffset)+l.SpaceBytes() > im.fileSize+SectorSize {
			im.warn(fmt.Sprintf("parent locator %d lies beyond the end of the file", i))
			continue
		}
		// A block may take the unused part of a locator's space, not its data.
		off := int64(l.DataOffset)
		meta = append(meta, region{fmt.Sprintf("locator %d data", i), off, off + roundUp(int64(l.DataLen), SectorSize)})
		end = max(end, off+l.SpaceBytes())
	}
	for _, e := range im.bat {
		if e != unallocated {
			end = max(end, int64(e)*SectorSize+im.bmSize+im.blockSize)
		}
	}
	im.dataEnd = end
	if im.repairEOF {
		im.footerOff = max(im.footerOff, end)
	}
	return meta
}

// onlySafeToRead ends the warning of a read-only open of an image that
// a writable one refuses: what its disk reads through a conflict is not
// data anything wrote, and a maintenance operation may change it.
const onlySafeToRead = "only safe to read"

// checkMetadata refuses, for writing, an image whose metadata regions
// lie over each other (blockconflict.go). Unlike a block's conflicts, this
// holds for maintenance opens too: what they write is metadata. Read-only
// opens take it with a warning.
func (im *Image) checkMetadata(meta []region) error {
	r, under, ok := findMetaConflict(meta)
	if !ok {
		return nil
	}
	what := fmt.Sprintf("the %s at %#x-%#x overlaps the %s at %#x-%#x", r.name, r.off, r.end, under.name, under.off, under.end)
	if im.readOnly {
		im.warn(what + ": " + onlySafeToRead)
		return nil
	}
	return &FormatError{
		Offset: r.off,
		Field:  r.name,
		Err:    fmt.Errorf("%w: %s; refused for writing, where updating one would corrupt the other", ErrMetadataOverlap, what),
	}
}

// checkBlocks refuses, for writing, an image with a block over metadata,
// over another block or past the EOF footer (blockconflict.go). Read-only
// and maintenance opens (maintain.go, which writes metadata only) take it
// with a warning: inspection and repair tools still work on it.
func (im *Image) checkBlocks(meta []region, opts OpenOptions) error {
	footerOff := im.footerOff
	if im.repairEOF {
		footerOff = -1 // the recovered footer goes past every block
	}
	var bad *blockConflict
	findBlockConflicts(im.bat, im.bmSize+im.blockSize, meta, footerOff, func(c blockConflict) bool {
		bad = &c
		return false
	})
	switch {
	case bad == nil:
		return nil
	case im.readOnly || opts.maintenance:
		im.warn(fmt.Sprintf("%v: %s (vhd-util check lists every such block)", bad, onlySafeToRead))
		return nil
	}
	return &FormatError{
		Offset: int64(im.header.TableOffset) + 4*int64(bad.block),
		Field:  fmt.Sprintf("bat[%d]", bad.block),
		Err:    fmt.Errorf("%w: %v; refused for writing, where guest writes would corrupt the image", ErrBlockOverlap, bad),
	}
}

func (im *Image) warn(s string) { im.warnings = append(im.warnings, s) }
