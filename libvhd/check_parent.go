package libvhd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
)

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
	pol := newParentPolicy(c.path, c.opts.FS, c.opts.ParentDirs)
	for _, lp := range c.shell.locatorPaths() {
		cand, ok := c.shell.locatorCandidate(lp)
		if !ok {
			continue // a drive-letter path: meaningless on this host
		}
		where, off := fmt.Sprintf("locator[%d]", lp.Slot), hdrOff+0x240+24*int64(lp.Slot)
		switch err := c.shell.matchParent(cand, pol); {
		case errors.Is(err, ErrParentRefused):
			c.add(where, off, "%v", err) // it names the locator
		case err != nil:
			c.add(where, off, "%s names %s: %v", codeName(lp.Code), cand.path, err)
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
// parent name beside the child, each held to the parent policy) without
// opening the chain below it. A VHD parent must carry the UUID the
// header names; a raw one must cover the child.
func (im *Image) LocateParent() (string, error) {
	if im.footer.Type != Differencing {
		return "", ErrNotDifferencing
	}
	pol := newParentPolicy(im.path, im.fsys, im.parentDirs)
	var tried []string
	for _, c := range im.parentCandidates() {
		err := im.matchParent(c, pol)
		if err == nil {
			return c.path, nil
		}
		if errors.Is(err, ErrParentUUID) || errors.Is(err, ErrParentRefused) {
			return "", err
		}
		tried = append(tried, c.path)
	}
	return "", fmt.Errorf("%w: %q (tried %s)", ErrParentNotFound, im.header.ParentNameString(), strings.Join(tried, ", "))
}

// matchParent says why c is not the parent Open would take; nil if it is.
func (im *Image) matchParent(c parentCandidate, pol parentPolicy) error {
	l, err := im.openCandidate(c, pol, OpenOptions{NoLock: true, FS: im.fsys}, 0)
	if err != nil {
		return err
	}
	return l.close()
}
