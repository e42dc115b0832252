package libvhd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
)

// Check verifies an image the way `vhd-util check` does. Unlike Open, it
// does not stop at the first problem or recover silently: it reads the raw
// structures and reports every inconsistency it can see, so a storage
// manager can tell a damaged image from a healthy one. The checks:
//
//   - footer: cookie, checksum, features, version, data offset, timestamp
//     not in the future, geometry consistent with the size, disk type,
//     saved/hidden flags, reserved bytes, UUID; the copy at offset 0
//     identical to the EOF footer;
//   - dynamic header: cookie, checksum, version, next offset, block size,
//     table size, parent fields only on differencing disks;
//   - BAT: no block overlapping metadata, another block or the footer;
//   - batmap: cookie, version, checksum, no full bit on an unallocated
//     block (with Bitmaps: nor on a block whose bitmap is not full);
//   - parent locators: in range, known and distinct codes, decoding to
//     the parent; the parent present with the UUID the header names.

// timestampSlack is how far in the future a footer timestamp may be
// (clock skew between hosts), as blktap allows.
const timestampSlack = 30 * time.Minute

// CheckOptions select what Check verifies beyond the image itself.
type CheckOptions struct {
	Parents bool // also check every image down the chain (-p)
	Bitmaps bool // also compare every full batmap bit with its bitmap (-b)
	// IgnoreTimestamps skips the "footer timestamp in the future" check (-t).
	IgnoreTimestamps bool
	// IgnoreMissingFooter accepts a damaged EOF footer when the copy at
	// offset 0 is good (-i): `vhd-util repair` fixes that case.
	IgnoreMissingFooter bool
	// NoOverlap skips the BAT overlap checks (-B), for huge images.
	NoOverlap bool
	Now       func() time.Time // default time.Now
	FS        FS               // default OSFS
}

// Problem is one inconsistency found by Check.
type Problem struct {
	Path      string `json:"path"`      // file the problem is in
	Structure string `json:"structure"` // e.g. "footer", "header", "bat[12]", "batmap", "locator[1]"
	Offset    int64  `json:"offset"`    // byte offset of the structure in the file, -1 if none
	Msg       string `json:"message"`
}

func (p Problem) String() string {
	if p.Offset < 0 {
		return fmt.Sprintf("%s: %s: %s", p.Path, p.Structure, p.Msg)
	}
	return fmt.Sprintf("%s: %s at %#x: %s", p.Path, p.Structure, p.Offset, p.Msg)
}

// Check verifies path and, with opts.Parents, its ancestors. It returns the
// problems found; the error is for a file it could not read at all.
func Check(path string, opts CheckOptions) ([]Problem, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	var all []Problem
	for depth := 1; path != ""; depth++ {
		if depth > MaxChainDepth {
			return all, fmt.Errorf("check %s: %w", path, ErrChainTooDeep)
		}
		c, err := checkOne(path, opts)
		if err != nil {
			return all, err
		}
		all = append(all, c.problems...)
		if !opts.Parents {
			break
		}
		path = c.parentVHD
	}
	return all, nil
}

// checker holds what one image's checks learn as they go.
type checker struct {
	opts      CheckOptions
	path      string
	f         File
	size      int64
	problems  []Problem
	footer    Footer
	footerOff int64 // where the EOF footer is (or should be)
	// shell is an Image holding just the fields the parent lookup reads,
	// so Check resolves parents exactly as Open does.
	shell     *Image
	regions   []region // metadata extents, for the overlap checks
	parentVHD string   // parent to check next with Parents; "" if none
}

// region is a named byte range [off, end) of the file.
type region struct {
	name     string
	off, end int64
}

func (c *checker) add(structure string, off int64, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: c.path, Structure: structure, Offset: off, Msg: fmt.Sprintf(format, args...)})
}

func checkOne(path string, opts CheckOptions) (*checker, error) {
	f, err := opts.FS.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("%s: size: %w", path, err)
	}
	c := &checker{opts: opts, path: path, f: f, size: size}
	if err := c.run(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// run checks each structure in turn; it stops where a broken structure
// leaves the next one unlocatable.
func (c *checker) run() error {
	ok, err := c.checkFooters()
	if err != nil || !ok {
		return err
	}
	c.checkFooterFields()
	if c.footer.Type == Fixed {
		if int64(c.footer.CurrentSize) > c.footerOff {
			c.add("footer", c.footerOff, "current size %d runs past the footer at %#x", c.footer.CurrentSize, c.footerOff)
		}
		return nil
	}
	if c.footer.Type != Dynamic && c.footer.Type != Differencing {
		return nil
	}
	h, ok, err := c.checkHeader()
	if err != nil || !ok {
		return err
	}
	bat, ok, err := c.readBAT(h)
	if err != nil || !ok {
		return err
	}
	bm, err := c.checkBatmapHeader(h, len(bat))
	if err != nil {
		return err
	}
	c.shell = &Image{path: c.path, file: c.f, fsys: c.opts.FS, readOnly: true, footer: c.footer, header: h, fileSize: c.size}
	c.checkLocators(h)
	if !c.opts.NoOverlap {
		c.checkOverlaps(h, bat)
	}
	if bm != nil {
		if err := c.checkBatmapBits(h, bat, bm); err != nil {
			return err
		}
	}
	if c.footer.Type == Differencing {
		c.checkParent(h)
	}
	return nil
}

// checkFooters picks the footer to check the rest against: the EOF one,
// else (reporting it) the copy at offset 0. ok is false when neither is
// usable.
func (c *checker) checkFooters() (ok bool, err error) {
	if c.size < FooterSize-1 {
		c.add("file", -1, "%d bytes is too short for a footer", c.size)
		return false, nil
	}
	var buf [FooterSize]byte
	eofErr := errors.New("file too short")
	for _, n := range []int64{FooterSize, FooterSize - 1} {
		if c.size < n {
			continue
		}
		if err := readFull(c.f, buf[:n], c.size-n); err != nil {
			return false, fmt.Errorf("read footer: %w", err)
		}
		f, err := ParseFooter(buf[:n])
		if err == nil {
			c.footer, c.footerOff, eofErr = f, c.size-n, nil
			break
		}
		if n == FooterSize {
			eofErr = err // the 511-byte form is a fallback: report the real one
		}
	}
	var cbuf [FooterSize]byte
	if err := readFull(c.f, cbuf[:], 0); err != nil {
		return false, fmt.Errorf("read footer copy: %w", err)
	}
	cp, cpErr := ParseFooter(cbuf[:])
	if eofErr == nil {
		if c.footer.Type != Fixed {
			if cpErr != nil {
				c.add("footer copy", 0, "%v", cpErr)
			} else if !bytes.Equal(cbuf[:], buf[:]) {
				c.add("footer copy", 0, "differs from the EOF footer")
			}
		}
		return true, nil
	}
	eofOff := max(c.size-FooterSize, 0)
	if cpErr != nil || cp.Type == Fixed {
		c.add("footer", eofOff, "%v; no usable copy at offset 0 either", eofErr)
		return false, nil
	}
	if !c.opts.IgnoreMissingFooter {
		c.add("footer", eofOff, "%v (the copy at offset 0 is good: vhd-util repair restores it)", eofErr)
	}
	c.footer, c.footerOff = cp, eofOff&^(SectorSize-1)
	return true, nil
}

// checkFooterFields checks each footer field on its own.
func (c *checker) checkFooterFields() {
	f, off := &c.footer, c.footerOff
	if f.Features&featuresReserved == 0 {
		c.add("footer", off, "features %#x lack the reserved bit 0x2", f.Features)
	}
	if f.Features&^(featuresReserved|FeatureTemporary) != 0 {
		c.add("footer", off, "unknown feature bits in %#x", f.Features)
	}
	if f.Version != formatVersion {
		c.add("footer", off, "version %#08x, want 0x00010000", f.Version)
	}
	switch f.Type {
	case Fixed:
		if f.DataOffset != fixedDataOffset {
			c.add("footer", off, "data offset %#x on a fixed disk, want all ones", f.DataOffset)
		}
	case Dynamic, Differencing:
		if f.DataOffset%SectorSize != 0 || f.DataOffset < FooterSize || f.DataOffset > uint64(c.footerOff) || int64(f.DataOffset)+HeaderSize > c.footerOff {
			c.add("footer", off, "data offset %#x does not leave room for the dynamic header before the footer at %#x", f.DataOffset, c.footerOff)
		}
	default:
		c.add("footer", off, "disk type %d, want 2 (fixed), 3 (dynamic) or 4 (differencing)", uint32(f.Type))
	}
	if t := TimeOf(f.Timestamp); !c.opts.IgnoreTimestamps && t.After(c.opts.Now().Add(timestampSlack)) {
		c.add("footer", off, "timestamp %s is in the future", t.Format(time.RFC3339))
	}
	if f.CurrentSize > MaxDiskSize {
		c.add("footer", off, "current size %d is over 2040 GiB", f.CurrentSize)
	}
	if f.CurrentSize%SectorSize != 0 {
		c.add("footer", off, "current size %d is not a whole number of sectors", f.CurrentSize)
	}
	// Producers disagree on geometry (QEMU's qem2 writes the 65535/16/255
	// marker, big disks cap it), so require only that C×H×S fits the size.
	if g := f.Geometry; g != (Geometry{65535, 16, 255}) && uint64(g.Bytes()) > f.CurrentSize {
		c.add("footer", off, "geometry %s holds %d bytes, more than the current size %d", g, g.Bytes(), f.CurrentSize)
	}
	if f.SavedState > 1 {
		c.add("footer", off, "saved state %d, want 0 or 1", f.SavedState)
	}
	if f.Hidden > 1 {
		c.add("footer", off, "hidden %d, want 0 or 1", f.Hidden)
	}
	if i := slices.IndexFunc(f.Reserved[:], func(b byte) bool { return b != 0 }); i >= 0 {
		c.add("footer", off, "reserved byte at +%#x is %#02x, want 0", 0x56+i, f.Reserved[i])
	}
	if f.UUID == uuid.Nil {
		c.add("footer", off, "null unique id")
	}
}

// checkHeader reads and checks the dynamic header; ok is false when the
// BAT cannot be located from it.
func (c *checker) checkHeader() (h Header, ok bool, err error) {
	// A header cut short by the end of the file is reported with the
	// footer's data offset; its fields are still checked, read as zeros
	// past the end, as QEMU reads them.
	off := int64(c.footer.DataOffset)
	if c.footer.DataOffset%SectorSize != 0 || off < FooterSize || off >= c.size {
		return h, false, nil
	}
	var buf [HeaderSize]byte
	if err := readFull(c.f, buf[:], off); err != nil {
		return h, false, fmt.Errorf("read dynamic header: %w", err)
	}
	h, err = ParseHeader(buf[:])
	if err != nil {
		c.add("header", off, "%v", err)
		return h, false, nil
	}
	c.regions = append(c.regions, region{"footer copy", 0, FooterSize}, region{"dynamic header", off, off + HeaderSize})
	if h.Version != headerVersion {
		c.add("header", off, "version %#08x, want 0x00010000", h.Version)
	}
	if h.NextOffset != ^uint64(0) {
		c.add("header", off, "next offset %#x, want all ones", h.NextOffset)
	}
	c.checkParentFields(h, off)
	bs := h.BlockSize
	if bits.OnesCount32(bs) != 1 || bs < minBlockSize || bs > maxBlockSize {
		c.add("header", off, "block size %d is not a power of two from 4 KiB to 256 MiB", bs)
		return h, false, nil
	}
	need := (c.footer.CurrentSize + uint64(bs) - 1) / uint64(bs)
	limit := (uint64(MaxDiskSize) + uint64(bs) - 1) / uint64(bs)
	if uint64(h.MaxTableEntries) < need {
		c.add("header", off, "max table entries %d, but the disk needs %d", h.MaxTableEntries, need)
	}
	if uint64(h.MaxTableEntries) > limit {
		c.add("header", off, "max table entries %d is more than a 2040 GiB disk needs (%d)", h.MaxTableEntries, limit)
		return h, false, nil
	}
	return h, true, nil
}

// checkParentFields: parent UUID, timestamp, name and locators belong to
// differencing disks only.
func (c *checker) checkParentFields(h Header, off int64) {
	if c.footer.Type == Differencing {
		if h.ParentNameString() == "" && !slices.ContainsFunc(h.Locators[:], func(l Locator) bool { return l.Code != LocatorNone }) {
			c.add("header", off, "differencing disk with neither a parent name nor a parent locator")
		}
		return
	}
	if h.ParentUUID != uuid.Nil {
		c.add("header", off, "parent UUID %s on a dynamic disk", h.ParentUUID)
	}
	if name := h.ParentNameString(); name != "" {
		c.add("header", off, "parent name %q on a dynamic disk", name)
	}
	for i, l := range h.Locators {
		if l.Code != LocatorNone {
			c.add(fmt.Sprintf("locator[%d]", i), off+0x240+24*int64(i), "parent locator %s on a dynamic disk", codeName(l.Code))
		}
	}
}

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
	c.regions = append(c.regions, region{"BAT", off, end})
	return bat, true, nil
}

// checkOverlaps: every block lies before the EOF footer and overlaps
// neither metadata nor another block.
func (c *checker) checkOverlaps(h Header, bat []uint32) {
	blockLen := bitmapSize(h.BlockSize) + int64(h.BlockSize)
	var blocks []region
	for i, e := range bat {
		if e == unallocated {
			continue
		}
		b := region{fmt.Sprintf("block %d", i), int64(e) * SectorSize, int64(e)*SectorSize + blockLen}
		where := fmt.Sprintf("bat[%d]", i)
		entryOff := int64(h.TableOffset) + 4*int64(i)
		if b.end > c.footerOff {
			c.add(where, entryOff, "block at %#x-%#x runs past the EOF footer at %#x", b.off, b.end, c.footerOff)
		}
		for _, m := range c.regions {
			if b.off < m.end && m.off < b.end {
				c.add(where, entryOff, "block at %#x-%#x overlaps the %s at %#x-%#x", b.off, b.end, m.name, m.off, m.end)
			}
		}
		blocks = append(blocks, b)
	}
	slices.SortFunc(blocks, func(a, b region) int { return int(a.off - b.off) })
	for i := 1; i < len(blocks); i++ {
		if a, b := blocks[i-1], blocks[i]; b.off < a.end {
			c.add("bat", int64(h.TableOffset), "%s at %#x overlaps %s at %#x", b.name, b.off, a.name, a.off)
		}
	}
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
	c.regions = append(c.regions, region{"batmap header", off, off + batmapHeaderSize})
	if bh.Version != batmapVersion {
		c.add("batmap", off, "version %#08x, want 0x00010002", bh.Version)
	}
	mapOff, mapLen := int64(bh.MapOffset), int64(bh.MapSectors)*SectorSize
	if bh.MapOffset%SectorSize != 0 || bh.MapOffset > uint64(c.footerOff) || mapOff+mapLen > c.footerOff || mapLen < (int64(entries)+7)/8 {
		c.add("batmap", off, "map of %d sectors at %#x does not hold %d bits before the footer", bh.MapSectors, bh.MapOffset, entries)
		return nil, nil
	}
	c.regions = append(c.regions, region{"batmap", mapOff, mapOff + mapLen})
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
func (c *checker) checkBatmapBits(h Header, bat []uint32, m []byte) error {
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
		if !c.opts.Bitmaps {
			continue
		}
		if err := readFull(c.f, bm, int64(e)*SectorSize); err != nil {
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

// checkLocators: each locator has a known code of its own and data inside
// the file, clear of the other metadata; every path it decodes to names
// the parent.
func (c *checker) checkLocators(h Header) {
	if c.footer.Type != Differencing {
		return
	}
	hdrOff := int64(c.footer.DataOffset)
	seen := map[uint32]int{}
	var data []region
	for i, l := range h.Locators {
		if l.Code == LocatorNone {
			continue
		}
		where, off := fmt.Sprintf("locator[%d]", i), hdrOff+0x240+24*int64(i)
		if codeName(l.Code) == "" {
			c.add(where, off, "unknown platform code %#08x", l.Code)
		}
		if j, dup := seen[l.Code]; dup {
			c.add(where, off, "platform code %s repeats locator[%d]", codeName(l.Code), j)
		}
		seen[l.Code] = i
		if int64(l.DataLen) > l.SpaceBytes() {
			c.add(where, off, "data length %d exceeds its space of %d bytes", l.DataLen, l.SpaceBytes())
		}
		r := region{fmt.Sprintf("locator %d data", i), int64(l.DataOffset), int64(l.DataOffset) + roundUp(int64(l.DataLen), SectorSize)}
		if l.DataOffset > uint64(c.footerOff) || r.end > c.footerOff || r.off < FooterSize {
			c.add(where, off, "data at %#x+%d lies outside the file's metadata area (footer at %#x)", l.DataOffset, l.DataLen, c.footerOff)
			continue
		}
		for _, m := range c.regions {
			if r.off < m.end && m.off < r.end {
				c.add(where, off, "data at %#x-%#x overlaps the %s at %#x-%#x", r.off, r.end, m.name, m.off, m.end)
			}
		}
		data = append(data, r)
	}
	c.regions = append(c.regions, data...)
	for _, lp := range c.shell.locatorPaths() {
		cand, ok := c.shell.locatorCandidate(lp)
		if !ok {
			continue // a drive-letter path: meaningless on this host
		}
		if err := c.shell.matchParent(cand); err != nil {
			c.add(fmt.Sprintf("locator[%d]", lp.Slot), hdrOff+0x240+24*int64(lp.Slot), "%s names %s: %v", codeName(lp.Code), cand, err)
		}
	}
}

// checkParent: the parent the header names can be found.
func (c *checker) checkParent(h Header) {
	p, err := c.shell.LocateParent()
	if err != nil {
		c.add("parent", int64(c.footer.DataOffset), "%v", err)
		return
	}
	if !c.shell.ParentRaw() {
		c.parentVHD = p
	}
}

// codeName is a locator platform code as text ("W2ru"), "" if unknown.
func codeName(code uint32) string {
	switch code {
	case LocatorWi2r, LocatorWi2k, LocatorW2ru, LocatorW2ku, LocatorMac, LocatorMacX:
		return string(binary.BigEndian.AppendUint32(nil, code))
	}
	return ""
}

// LocateParent finds a differencing image's parent file the way Open does
// (locators relative to the child, then absolute ones, then the header's
// parent name beside the child) without opening the chain below it. A VHD
// parent must carry the UUID the header names.
func (im *Image) LocateParent() (string, error) {
	if im.footer.Type != Differencing {
		return "", ErrNotDifferencing
	}
	var tried []string
	for _, cand := range im.parentCandidates() {
		err := im.matchParent(cand)
		if err == nil {
			return cand, nil
		}
		if errors.Is(err, ErrParentUUID) {
			return "", err
		}
		tried = append(tried, cand)
	}
	return "", fmt.Errorf("%w: %q (tried %s)", ErrParentNotFound, im.header.ParentNameString(), strings.Join(tried, ", "))
}

// locatorCandidate is the file a decoded locator names, as Open resolves
// it; ok is false for paths that cannot be resolved here.
func (im *Image) locatorCandidate(lp LocatorPath) (string, bool) {
	if lp.relative {
		return filepath.Join(filepath.Dir(im.path), lp.path), true
	}
	return lp.path, filepath.IsAbs(lp.path)
}

// matchParent says why cand is not the parent the header names; nil if it is.
func (im *Image) matchParent(cand string) error {
	if im.ParentRaw() {
		r, err := openRaw(cand, im.fsys)
		if err != nil {
			return err
		}
		return r.close()
	}
	p, err := Open(cand, OpenOptions{ReadOnly: true, NoParent: true, FS: im.fsys})
	if err != nil {
		return err
	}
	defer p.Close()
	if p.footer.UUID != im.header.ParentUUID {
		return fmt.Errorf("%w: %s has %s, header wants %s", ErrParentUUID, cand, p.footer.UUID, im.header.ParentUUID)
	}
	return nil
}
