package libvhd

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
)

// Maintenance operations of `vhd-util set`, `repair` and `modify`. Each
// opens the image alone (never its parent), changes metadata in an order
// that leaves a valid image at every instant, and syncs before returning:
//
//   - a footer change goes to the EOF footer first, then to the copy at
//     offset 0 (readers prefer the EOF one; either is whole and checksummed);
//   - a footer move writes the footer at its new place before the file is
//     cut, so the file always ends with one;
//   - the dynamic header (1024 bytes, two sectors in one 4 KiB page) is
//     written with one write, after the locator data it points to.
//
// They work on an image whose blocks lie over metadata or each other,
// which Open otherwise refuses for writing: none writes guest data, and
// emptying the BAT is a way out of it.

// Errors of requests that do not apply to the image; nothing is written.
var (
	// ErrNoBatmap: the operation needs blktap's batmap (the marker) and
	// the image has none.
	ErrNoBatmap = errors.New("image has no batmap")
	// ErrFixedImage: the operation needs a BAT or a footer copy.
	ErrFixedImage = errors.New("not possible on a fixed image")
	// ErrCutsData: a new physical size would cut into data or metadata.
	ErrCutsData = errors.New("would cut into data")
)

// maintain opens path for writing without its parent, runs op under the
// image lock and closes it, reporting the first error with the path.
func maintain(path string, fsys FS, op func(im *Image) error) error {
	im, err := Open(path, OpenOptions{NoParent: true, FS: fsys, maintenance: true})
	if err != nil {
		return err
	}
	im.mu.Lock()
	err = op(im)
	im.mu.Unlock()
	if cerr := im.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// SetHidden sets blktap's hidden flag (footer byte 0x55) to 0 or 1.
func SetHidden(path string, hidden uint8, fsys FS) error {
	if hidden > 1 {
		return fmt.Errorf("%s: hidden %d: want 0 or 1", path, hidden)
	}
	return maintain(path, fsys, func(im *Image) error {
		f := im.footer
		f.Hidden = hidden
		return im.rewriteFooterLocked(f)
	})
}

// SetMarker sets the batmap's marker byte. The batmap checksum covers the
// map only, so nothing else changes.
func SetMarker(path string, marker uint8, fsys FS) error {
	return maintain(path, fsys, func(im *Image) error {
		if im.batmap == nil {
			return ErrNoBatmap
		}
		im.batmap.header.Marker = marker
		if err := im.writeBatmapLocked(); err != nil {
			return err
		}
		return im.file.Sync()
	})
}

// RepairFooter rewrites the EOF footer when it is damaged, from the copy at
// offset 0; with fromCopy it does so even when the EOF footer is valid.
// It reports whether it wrote anything.
func RepairFooter(path string, fromCopy bool, fsys FS) (repaired bool, err error) {
	err = maintain(path, fsys, func(im *Image) error {
		if im.footer.Type == Fixed {
			if fromCopy {
				return fmt.Errorf("no footer copy at offset 0: %w", ErrFixedImage)
			}
			return nil
		}
		var buf [FooterSize]byte
		if err := readFull(im.file, buf[:], 0); err != nil {
			return fmt.Errorf("read footer copy: %w", err)
		}
		cp, err := ParseFooter(buf[:])
		if err != nil {
			return fmt.Errorf("footer copy at offset 0: %w", err)
		}
		if !fromCopy && !im.repairEOF {
			return nil
		}
		repaired = true
		if _, err := im.file.WriteAt(buf[:], im.footerOff); err != nil {
			return fmt.Errorf("write footer: %w", err)
		}
		im.footer, im.footerBuf, im.repairEOF = cp, buf, false
		return im.file.Sync()
	})
	return repaired, err
}

// rewriteFooterLocked writes f as the EOF footer, then as the copy at 0.
func (im *Image) rewriteFooterLocked(f Footer) error {
	var buf [FooterSize]byte
	f.put(buf[:])
	if _, err := im.file.WriteAt(buf[:], im.footerOff); err != nil {
		return fmt.Errorf("write footer: %w", err)
	}
	if err := im.file.Sync(); err != nil {
		return err
	}
	if im.footer.Type != Fixed {
		if _, err := im.file.WriteAt(buf[:], 0); err != nil {
			return fmt.Errorf("write footer copy: %w", err)
		}
		if err := im.file.Sync(); err != nil {
			return err
		}
	}
	im.footer, im.footerBuf, im.repairEOF = f, buf, false
	return nil
}

// SetPhysicalSize moves the EOF footer so the file is size bytes long
// (`vhd-util modify -s`). It refuses to cut into the disk's data or
// metadata.
func SetPhysicalSize(path string, size int64, fsys FS) error {
	return maintain(path, fsys, func(im *Image) error {
		if size%SectorSize != 0 {
			return fmt.Errorf("size %d: not a whole number of sectors", size)
		}
		limit := im.dataEnd
		if im.footer.Type == Fixed {
			limit = int64(im.footer.CurrentSize)
		}
		if size-FooterSize < limit {
			return fmt.Errorf("size %d: %w, which ends at %d (%d bytes at least with the footer)", size, ErrCutsData, limit, limit+FooterSize)
		}
		return im.moveFooterLocked(size - FooterSize)
	})
}

// moveFooterLocked writes the EOF footer at off and cuts the file after it.
func (im *Image) moveFooterLocked(off int64) error {
	if im.devSize > 0 {
		return im.moveDeviceFooterLocked(off)
	}
	t, ok := im.file.(interface{ Truncate(int64) error })
	if !ok {
		return errors.New("file cannot be truncated")
	}
	if _, err := im.file.WriteAt(im.footerBuf[:], off); err != nil {
		return fmt.Errorf("write footer: %w", err)
	}
	if err := im.file.Sync(); err != nil {
		return err
	}
	if err := t.Truncate(off + FooterSize); err != nil {
		return fmt.Errorf("truncate: %w", err)
	}
	im.footerOff, im.fileSize, im.repairEOF = off, off+FooterSize, false
	return im.file.Sync()
}

// EmptyBAT drops every block (`vhd-util modify -z`): the batmap is
// cleared first (fewer full bits is always safe; header and map in one
// write, see writeBatmapLocked), then the BAT, each sector of which is
// valid old or new; last the file is cut back to its metadata.
func EmptyBAT(path string, fsys FS) error {
	return maintain(path, fsys, func(im *Image) error {
		if im.footer.Type == Fixed {
			return fmt.Errorf("no BAT: %w", ErrFixedImage)
		}
		if err := im.flushLocked(); err != nil {
			return err
		}
		if b := im.batmap; b != nil {
			clear(b.bits)
			if err := im.writeBatmapLocked(); err != nil {
				return err
			}
		}
		raw := slices.Repeat([]byte{0xFF}, 4*len(im.bat))
		if _, err := im.file.WriteAt(raw, int64(im.header.TableOffset)); err != nil {
			return fmt.Errorf("write BAT: %w", err)
		}
		if err := im.file.Sync(); err != nil {
			return err
		}
		for i := range im.bat {
			im.bat[i] = unallocated
		}
		im.measureMetadata()
		return im.moveFooterLocked(roundUp(im.dataEnd, SectorSize))
	})
}

// SetParent points a differencing image at a new parent (`vhd-util modify
// -p`): parent UUID, timestamp (the parent's mtime, as blktap records it),
// name and blktap's three locators, all relative to the child. The new
// locator data goes into fresh sectors past the last block (the footer
// moving there first), so the old header's locators stay intact until the
// header itself, written last, switches to the new ones. The header is two
// sectors written with one write inside one 4 KiB page: a process crash
// cannot split it; a power cut can only on a disk with 512-byte physical
// sectors (blktap shares that window). A parent the child could not open
// under the parent policy (parentpolicy.go; parentDirs as
// OpenOptions.ParentDirs) is refused.
func SetParent(path, parent string, raw bool, fsys FS, parentDirs ...string) error {
	return maintain(path, fsys, func(im *Image) error {
		if im.footer.Type != Differencing {
			return ErrNotDifferencing
		}
		pi, err := describeParent(path, &CreateOptions{Parent: parent, ParentRaw: raw, ParentDirs: parentDirs, FS: im.fsys})
		if err != nil {
			return err
		}
		h := im.header
		h.ParentUUID, h.ParentTimestamp = pi.uuid, pi.timestamp
		h.SetParentName(filepath.Base(pi.rel))
		if h.Locators, err = im.appendLocatorsLocked(locatorPayloads(pi.rel)); err != nil {
			return err
		}
		var buf [HeaderSize]byte
		h.put(buf[:])
		if _, err := im.file.WriteAt(buf[:], int64(im.footer.DataOffset)); err != nil {
			return fmt.Errorf("write header: %w", err)
		}
		im.header = h
		return im.file.Sync()
	})
}

// appendLocatorsLocked writes the payloads, a sector each or more, past the
// end of the data and returns the locator table naming them.
func (im *Image) appendLocatorsLocked(payloads []struct {
	code uint32
	data []byte
}) ([locatorCount]Locator, error) {
	var out [locatorCount]Locator
	start := roundUp(max(im.dataEnd, im.footerOff), SectorSize)
	area := []byte{}
	for i, p := range payloads {
		space := roundUp(int64(len(p.data)), SectorSize)
		out[i] = Locator{Code: p.code, DataSpace: uint32(space), DataLen: uint32(len(p.data)), DataOffset: uint64(start + int64(len(area)))}
		area = append(area, p.data...)
		area = append(area, make([]byte, space-int64(len(p.data)))...)
	}
	end := start + int64(len(area))
	if _, err := im.file.WriteAt(im.footerBuf[:], end); err != nil {
		return out, fmt.Errorf("write footer: %w", err)
	}
	if err := im.file.Sync(); err != nil {
		return out, err
	}
	im.footerOff, im.fileSize, im.dataEnd = end, max(im.fileSize, end+FooterSize), end
	if _, err := im.file.WriteAt(area, start); err != nil {
		return out, fmt.Errorf("write parent locators: %w", err)
	}
	return out, im.file.Sync()
}
