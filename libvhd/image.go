package libvhd

import (
	"errors"
	"fmt"
	"sync"
)

// Image is one open VHD file and, for a differencing disk, its parent
// chain. Its methods are safe for concurrent use.
type Image struct {
	path     string
	file     File
	fsys     FS
	readOnly bool
	// deferMetadata: see OpenOptions.DeferMetadata.
	deferMetadata bool
	parentDirs    []string // see OpenOptions.ParentDirs
	warnings      []string

	footer    Footer
	footerBuf [FooterSize]byte // encoded footer, written at each new EOF position
	footerOff int64            // where the EOF footer starts
	fileSize  int64            // bytes in the file as far as this Image wrote or saw
	devSize   int64            // a block device's size (blockdev.go); 0: a regular file
	repairEOF bool             // the EOF footer was damaged: rewrite it at close

	// Dynamic and differencing images only.
	header    Header
	blockSize int64
	bmSize    int64 // bytes of one block's sector bitmap
	bat       []uint32
	dataEnd   int64 // end of all metadata and of the last block
	batmap    *batmap
	// bitmapAlone marks the blocks whose bitmap pages hold no data, for a
	// PageCacheWriter (bitmappages.go), nil without one; blocksEnd is the
	// furthest end of a block's data then.
	bitmapAlone []byte
	blocksEnd   int64
	parent      layer // nil: no parent (dynamic) or not opened (OpenOptions.NoParent)

	mu     sync.Mutex
	closed bool
	// inflight counts the reads and writes of data going to the file
	// without mu (io.go): whoever closes or swaps the file waits for
	// them, under mu.
	inflight sync.WaitGroup
	cache    *bitmapCache
	dirty    dirtyState
	scratch  [2 * SectorSize]byte // head and tail sectors of unaligned writes
	counts                        // requests that reached this image
}

// batmap is blktap's in-memory batmap; it reaches the disk at close.
type batmap struct {
	header  BatmapHeader
	offset  int64 // of the header
	bits    []byte
	changed bool
}

// Path is the file name the image was opened with.
func (im *Image) Path() string { return im.path }

// Size is the virtual disk's size in bytes: the footer's current size.
func (im *Image) Size() int64 { return int64(im.footer.CurrentSize) }

// Footer returns a copy of the footer in use.
func (im *Image) Footer() Footer { return im.footer }

// Header returns the dynamic header; ok is false for fixed images.
func (im *Image) Header() (h Header, ok bool) { return im.header, im.footer.Type != Fixed }

// Type is the disk type.
func (im *Image) Type() DiskType { return im.footer.Type }

// ReadOnly reports whether the image was opened read-only.
func (im *Image) ReadOnly() bool { return im.readOnly }

// Warnings lists what Open recovered from (a damaged EOF footer, an invalid
// batmap…), for the caller to show.
func (im *Image) Warnings() []string { return im.warnings }

// BlockSize is the block size of a dynamic or differencing image, 0 if fixed.
func (im *Image) BlockSize() int64 { return im.blockSize }

// BAT returns a copy of the block allocation table in memory.
func (im *Image) BAT() []uint32 {
	im.mu.Lock()
	defer im.mu.Unlock()
	return append([]uint32(nil), im.bat...)
}

// AllocatedBlocks counts the blocks present in this file.
func (im *Image) AllocatedBlocks() int {
	im.mu.Lock()
	defer im.mu.Unlock()
	n := 0
	for _, e := range im.bat {
		if e != unallocated {
			n++
		}
	}
	return n
}

// Bitmap returns a copy of block's sector bitmap, nil if the block is not
// allocated.
func (im *Image) Bitmap(block int) ([]byte, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if block < 0 || block >= len(im.bat) {
		return nil, fmt.Errorf("block %d: %w", block, ErrOutOfRange)
	}
	if im.bat[block] == unallocated {
		return nil, nil
	}
	bm, err := im.bitmapLocked(block)
	if err != nil {
		return nil, err
	}
	return append([]byte(nil), bm.bits...), nil
}

// Batmap returns the batmap header and a copy of the map; ok is false when
// the image has none.
func (im *Image) Batmap() (h BatmapHeader, bits []byte, ok bool) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.batmap == nil {
		return h, nil, false
	}
	return im.batmap.header, append([]byte(nil), im.batmap.bits...), true
}

// Parent is the next image down the chain: nil for none, or when the
// chain was not opened; ParentPath names it either way.
func (im *Image) Parent() *Image {
	p, _ := im.parent.(*Image)
	return p
}

// ParentPath is the resolved path of the parent (VHD or raw), "" if none
// was opened.
func (im *Image) ParentPath() string {
	if im.parent == nil {
		return ""
	}
	return im.parent.name()
}

// ParentRaw reports whether the parent is a raw file (null parent UUID).
func (im *Image) ParentRaw() bool {
	return im.footer.Type == Differencing && im.header.ParentUUID == [16]byte{}
}

// Depth is the number of images in the chain from this one down.
func (im *Image) Depth() int {
	d := 1
	for l := im.parent; l != nil; l = l.next() {
		d++
	}
	return d
}

// Close flushes, writes the batmap, and closes the whole chain.
func (im *Image) Close() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.closed {
		return ErrClosed
	}
	im.closed = true
	im.inflight.Wait()
	var errs []error
	if !im.readOnly {
		errs = append(errs, im.closeWritesLocked())
	}
	errs = append(errs, im.file.Close())
	if im.parent != nil {
		errs = append(errs, im.parent.close())
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("close %s: %w", im.path, err)
	}
	return nil
}

// closeWritesLocked makes everything durable and writes what is only kept
// in memory: the batmap, and the EOF footer if it had to be recovered.
func (im *Image) closeWritesLocked() error {
	if err := im.flushLocked(); err != nil {
		return err
	}
	wrote := false
	if im.repairEOF {
		if _, err := im.file.WriteAt(im.footerBuf[:], im.footerOff); err != nil {
			return fmt.Errorf("write footer: %w", err)
		}
		im.repairEOF, wrote = false, true
	}
	if b := im.batmap; b != nil && b.changed {
		if err := im.writeBatmapLocked(); err != nil {
			return err
		}
		wrote = true
	}
	if wrote {
		return im.file.Sync()
	}
	return nil
}

// writeBatmapLocked writes the map and the header whose checksum covers
// it. Where the map follows its header (as in every image blktap or this
// package makes) both go in one write, so no crash can leave a header
// whose checksum disagrees with its map; elsewhere the map goes first.
func (im *Image) writeBatmapLocked() error {
	b := im.batmap
	b.header.Checksum = batmapChecksum(b.bits)
	var hdr [batmapHeaderSize]byte
	b.header.put(hdr[:])
	if int64(b.header.MapOffset) == b.offset+batmapHeaderSize {
		buf := append(hdr[:], b.bits...)
		if _, err := im.file.WriteAt(buf, b.offset); err != nil {
			return fmt.Errorf("write batmap: %w", err)
		}
	} else {
		if _, err := im.file.WriteAt(b.bits, int64(b.header.MapOffset)); err != nil {
			return fmt.Errorf("write batmap: %w", err)
		}
		if _, err := im.file.WriteAt(hdr[:], b.offset); err != nil {
			return fmt.Errorf("write batmap header: %w", err)
		}
	}
	b.changed = false
	return nil
}
