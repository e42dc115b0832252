package libvhd

import "fmt"

// FillOptions tune Fill.
type FillOptions struct {
	// BATOnly allocates the missing blocks without copying any data
	// (vhd-util fill -b): a dynamic image's new blocks get full bitmaps
	// over data never written, which reads as zeros, as blktap does; a
	// differencing image's get empty ones, so they still read the
	// parent. Either way the disk reads as before.
	BATOnly    bool
	FS         FS       // default OSFS
	ParentDirs []string // see OpenOptions.ParentDirs
}

// Fill allocates every block of the dynamic or differencing image at
// path (vhd-util fill) and reports how many it allocated. Each block not
// yet full is written with what the chain shows there, so the image then
// holds its whole disk by itself, every bitmap full, and reads as
// before. No journal is needed: every block goes through the ordinary
// write path, which keeps the image valid at every instant (alloc.go),
// and every sector is written with the bytes it already reads as. The
// image is opened with DeferMetadata, so that no bit reaches the disk
// before the data it vouches for is durable (flush.go): written through,
// a power cut could keep a bit and lose its data, and a sector that read
// the parent would read zeros. So a crash, of the process or of the
// power, leaves an image that reads exactly as before.
func Fill(path string, opts FillOptions) (allocated int, err error) {
	im, err := Open(path, OpenOptions{FS: opts.FS, ParentDirs: opts.ParentDirs, DeferMetadata: true})
	if err != nil {
		return 0, err
	}
	defer func() {
		if cerr := im.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			err = fmt.Errorf("fill %s: %w", path, err)
		}
	}()
	if im.footer.Type == Fixed {
		return 0, fmt.Errorf("every block of a fixed image is there already: %w", ErrFixedImage)
	}
	var buf []byte
	if !opts.BATOnly {
		buf = make([]byte, im.blockSize)
	}
	for blk := range (im.Size() + im.blockSize - 1) / im.blockSize {
		start := blk * im.blockSize
		n := min(im.blockSize, im.Size()-start)
		im.mu.Lock()
		missing := im.bat[blk] == unallocated
		full, err := im.holdsAllLocked(int(blk), n)
		if err == nil && missing && opts.BATOnly {
			err = im.allocateEmptyLocked(int(blk), n)
		}
		im.mu.Unlock()
		switch {
		case err != nil:
			return allocated, err
		case opts.BATOnly || full:
		default:
			if _, err := im.ReadAt(buf[:n], start); err != nil {
				return allocated, err
			}
			if _, err := im.WriteAt(buf[:n], start); err != nil {
				return allocated, err
			}
		}
		if missing {
			allocated++
		}
	}
	return allocated, im.Flush()
}

// holdsAllLocked reports whether block blk holds its first n bytes
// itself: allocated, every bit of them set.
func (im *Image) holdsAllLocked(blk int, n int64) (bool, error) {
	if im.bat[blk] == unallocated {
		return false, nil
	}
	if im.blockFull(blk) {
		return true, nil
	}
	s, err := im.bitmapLocked(blk)
	if err != nil {
		return false, err
	}
	for i := range int(n / SectorSize) {
		if !testBit(s.bits, i) {
			return false, nil
		}
	}
	return true, nil
}

// allocateEmptyLocked allocates block blk, the first n bytes of which
// lie on the disk, with no data: the bitmap empty, then, on a dynamic
// image, full over those bytes. The data lies past the old end of the
// file, never written, so it reads as zeros as the hole did.
func (im *Image) allocateEmptyLocked(blk int, n int64) error {
	if err := im.allocateLocked(blk, nil, 0); err != nil {
		return err
	}
	if im.footer.Type == Differencing {
		return nil
	}
	return im.markWrittenLocked(blk, 0, n)
}
