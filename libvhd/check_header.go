package libvhd

import (
	"fmt"
	"math/bits"
	"slices"

	"github.com/google/uuid"
)

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
	switch h.Version {
	case headerVersion:
	case disabledHeaderVersion:
		c.add("header", off, "version 0xffffffff: disabled by an unfinished vhd-update (run it again to finish, with -r to roll back)")
	default:
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
