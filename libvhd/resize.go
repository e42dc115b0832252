package libvhd

import (
	"errors"
	"fmt"
	"path/filepath"
)

// ResizeOptions choose how Resize grows an image: exactly one of Journal
// and Fast.
type ResizeOptions struct {
	// Journal grows through a journal at this path (vhd-util resize -j):
	// when the BAT must grow past its sectors, the first blocks move to
	// the end of the file to make room (resize_bat.go); a fixed image's
	// file grows and its footer moves (resize_fixed.go). Where the BAT
	// has room already, no journal is needed and none is written.
	Journal string
	// Fast grows only within the BAT entries reserved at creation
	// (create -S, snapshot -S; query -S reports the limit) and needs no
	// journal (vhd-util resize -f); beyond them it fails with ErrNoRoom.
	Fast bool
	FS   JournalFS // default OSFS
	Log  func(step string)
}

var (
	// ErrShrink: a new size below the current one (see SizeError).
	ErrShrink = errors.New("shrinking is not supported")
	// ErrNoRoom: a fast resize past the BAT entries reserved at creation.
	ErrNoRoom = errors.New("beyond the BAT entries reserved at creation (create -S): grow with a journal instead")
)

// SizeError is a requested size below the current one, in bytes.
type SizeError struct{ Size, Current int64 }

func (e *SizeError) Error() string {
	return fmt.Sprintf("size (%d) < curr size (%d): %v", e.Size, e.Current, ErrShrink)
}

func (e *SizeError) Unwrap() error { return ErrShrink }

// Resize grows the virtual disk of the closed image at path to newSize
// bytes (rounded up to a sector); the data stays where the guest sees
// it and the new space reads as zeros (or as the parent, for a
// differencing image). A differencing image is grown alone: its parent
// is not opened. The same size is nothing to do; a smaller one is a
// *SizeError. The image is locked while it changes; a crash leaves it
// as it was, grown, or (journaled only) disabled until `vhd-util revert`
// undoes the change from the journal (revert.go).
func Resize(path string, newSize int64, opts ResizeOptions) error {
	if opts.Fast == (opts.Journal != "") {
		return fmt.Errorf("resize %s: give either a journal or the fast mode", path)
	}
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	if opts.Log == nil {
		opts.Log = func(string) {}
	}
	if opts.Journal != "" {
		abs, err := filepath.Abs(opts.Journal)
		if err != nil {
			return fmt.Errorf("resize %s: journal: %w", path, err)
		}
		if len(abs) > maxJournalPath {
			return fmt.Errorf("resize %s: journal path %s: longer than the %d bytes a disabled footer can record: choose a shorter one", path, abs, maxJournalPath)
		}
		opts.Journal = abs
	}
	size := roundUp(newSize, SectorSize)
	if size > MaxDiskSize {
		return fmt.Errorf("resize %s: size %d: %w", path, size, ErrTooLarge)
	}
	return maintain(path, opts.FS, func(im *Image) error {
		if im.repairEOF || im.footerOff != im.fileSize-FooterSize {
			return fmt.Errorf("the EOF footer is damaged or short (vhd-util repair restores it first): %w", ErrNoFooter)
		}
		if err := im.flushLocked(); err != nil {
			return err
		}
		switch cur := im.Size(); {
		case size < cur:
			return &SizeError{size, cur}
		case size == cur:
			opts.Log(fmt.Sprintf("already %d bytes: nothing to do", size))
			return nil
		}
		var err error
		switch {
		case im.footer.Type == Fixed && opts.Fast:
			err = fmt.Errorf("a fixed image reserves nothing: %w", ErrNoRoom)
		case im.footer.Type == Fixed:
			err = resizeFixed(im, size, opts)
		case int64(im.header.MaxTableEntries)*im.blockSize >= size:
			err = growWithinBAT(im, size, opts)
		case opts.Fast:
			err = fmt.Errorf("%d bytes: %w (at most %d bytes)", size, ErrNoRoom, int64(im.header.MaxTableEntries)*im.blockSize)
		default:
			err = growBAT(im, size, opts)
		}
		return err
	})
}

// grownFooter is im's footer for a disk of size bytes. The original size
// goes too: libvhdi (vhdiinfo, vhdimount) takes it as the disk's size.
func grownFooter(im *Image, size int64) Footer {
	f := im.footer
	f.CurrentSize, f.OriginalSize, f.Geometry = uint64(size), uint64(size), GeometryFor(size)
	return f
}

// growWithinBAT grows a sparse image whose BAT already has an entry for
// every block of the new size. Only the footers change, with no journal:
// the EOF footer first, synced, then the copy at offset 0. Every reader
// (libvhd, QEMU, libvhdi, blktap) takes the EOF footer, so the image is
// the old one until that write and the new one after it; the copy is a
// backup, read only when the EOF footer is damaged, and either one
// describes a valid disk over the same BAT, since the new entries were
// holes and the old disk's tail holds no sector the new size would
// expose (checked here first). A crash between the two writes leaves the
// copy stale, which `vhd-util check` reports and `repair -b` would not
// need: the old size is still a valid view of the data.
func growWithinBAT(im *Image, size int64, opts ResizeOptions) error {
	if err := im.checkTailClear(); err != nil {
		return err
	}
	if err := im.rewriteFooterLocked(grownFooter(im, size)); err != nil {
		return err
	}
	opts.Log(fmt.Sprintf("grew to %d bytes within the BAT's %d entries", size, len(im.bat)))
	return nil
}

// checkTailClear refuses to grow a disk whose space past its end is not
// empty: a BAT entry past the last block, or bits past the end in the
// last block's bitmap (no writer of the format sets them, but the new
// space must read as zeros, or as the parent).
func (im *Image) checkTailClear() error {
	size := im.Size()
	last := int((size - 1) / im.blockSize)
	for i := last + 1; i < len(im.bat); i++ {
		if im.bat[i] != unallocated {
			return fmt.Errorf("block %d lies past the disk's end yet is allocated: refusing to expose it", i)
		}
	}
	if size%im.blockSize == 0 || im.bat[last] == unallocated {
		return nil
	}
	s, err := im.bitmapLocked(last)
	if err != nil {
		return err
	}
	for sec := int(size % im.blockSize / SectorSize); sec < int(im.blockSize/SectorSize); sec++ {
		if testBit(s.bits, sec) {
			return fmt.Errorf("block %d has sectors past the disk's end: refusing to expose them", last)
		}
	}
	return nil
}
