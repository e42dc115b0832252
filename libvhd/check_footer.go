package libvhd

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
)

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
			} else if !c.footer.footerCopyAgrees(cbuf[:], buf[:]) {
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
	if f.Features&FeatureReserved == 0 {
		c.add("footer", off, "features %#x lack the reserved bit 0x2", f.Features)
	}
	if f.Features&^(FeatureReserved|FeatureTemporary) != 0 {
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
