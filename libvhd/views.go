package libvhd

import (
	"encoding/binary"
	"fmt"
)

// Typed views of an image's structures, for tools that print them
// (vhd-util read): every offset and bit is computed here, where the
// format is known, never by the caller.

// BlockCount is the number of BAT entries; 0 for a fixed image.
func (im *Image) BlockCount() int { return len(im.bat) }

func (im *Image) checkBlock(blk int) error {
	if im.footer.Type == Fixed {
		return fmt.Errorf("%s: a fixed image has no blocks: %w", im.path, ErrFixedImage)
	}
	if blk < 0 || blk >= len(im.bat) {
		return fmt.Errorf("block %d: the BAT has %d entries: %w", blk, len(im.bat), ErrOutOfRange)
	}
	return nil
}

// BlockOffset is the byte offset in the file of block's sector bitmap,
// where its BAT entry points; ok is false if the block is not allocated.
func (im *Image) BlockOffset(blk int) (off int64, ok bool, err error) {
	if err := im.checkBlock(blk); err != nil {
		return 0, false, err
	}
	im.mu.Lock()
	e := im.bat[blk]
	im.mu.Unlock()
	if e == unallocated {
		return 0, false, nil
	}
	return int64(e) * SectorSize, true, nil
}

// AppendAllocationBits appends one bit per BAT entry, set if the block is
// allocated, most significant bit first (blktap's `read -B`, which its
// users compare between images).
func (im *Image) AppendAllocationBits(dst []byte) []byte {
	im.mu.Lock()
	defer im.mu.Unlock()
	start := len(dst)
	dst = append(dst, make([]byte, (len(im.bat)+7)/8)...)
	for i, e := range im.bat {
		if e != unallocated {
			setBit(dst[start:], i)
		}
	}
	return dst
}

// StoredBitmap returns block's sector bitmap as the file stores it (in a
// tap 0.1 image's own bit order); nil if the block is not allocated.
func (im *Image) StoredBitmap(blk int) ([]byte, error) {
	off, ok, err := im.BlockOffset(blk)
	if err != nil || !ok {
		return nil, err
	}
	m := make([]byte, im.bmSize)
	if err := readFull(im.file, m, off); err != nil {
		return nil, fmt.Errorf("read bitmap of block %d: %w", blk, err)
	}
	return m, nil
}

// BlockData returns block's data area as the file stores it; nil if the
// block is not allocated.
func (im *Image) BlockData(blk int) ([]byte, error) {
	off, ok, err := im.BlockOffset(blk)
	if err != nil || !ok {
		return nil, err
	}
	p := make([]byte, im.blockSize)
	if err := readFull(im.file, p, off+im.bmSize); err != nil {
		return nil, fmt.Errorf("read block %d: %w", blk, err)
	}
	return p, nil
}

// SectorLocation is where a virtual sector lies in this image's file.
type SectorLocation struct {
	Block   int   // the BAT entry covering it (0 for a fixed image)
	InBlock int64 // the sector's number within its block
	// FileOffset is the byte offset of the sector's data in the file, -1
	// if its block is not allocated.
	FileOffset int64
	// Written: this image holds the sector (its bitmap bit is set; always
	// for a fixed image).
	Written bool
}

// Locate finds virtual sector sec in this image.
func (im *Image) Locate(sec int64) (SectorLocation, error) {
	if sec < 0 || sec >= im.Size()/SectorSize {
		return SectorLocation{}, fmt.Errorf("sector %d: the disk has %d sectors: %w", sec, im.Size()/SectorSize, ErrOutOfRange)
	}
	if im.footer.Type == Fixed {
		return SectorLocation{InBlock: sec, FileOffset: sec * SectorSize, Written: true}, nil
	}
	spb := im.blockSize / SectorSize
	loc := SectorLocation{Block: int(sec / spb), InBlock: sec % spb, FileOffset: -1}
	im.mu.Lock()
	defer im.mu.Unlock()
	e := im.bat[loc.Block]
	if e == unallocated {
		return loc, nil
	}
	loc.FileOffset = int64(e)*SectorSize + im.bmSize + loc.InBlock*SectorSize
	if im.blockFull(loc.Block) {
		loc.Written = true
		return loc, nil
	}
	s, err := im.bitmapLocked(loc.Block)
	if err != nil {
		return loc, err
	}
	loc.Written = testBit(s.bits, int(loc.InBlock))
	return loc, nil
}

// BatmapFull reports blktap's batmap bit of block: set when the block's
// bitmap is all ones. ErrNoBatmap if the image has no batmap.
func (im *Image) BatmapFull(blk int) (bool, error) {
	if err := im.checkBlock(blk); err != nil {
		return false, err
	}
	if im.batmap == nil {
		return false, ErrNoBatmap
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.blockFull(blk), nil
}

// ComputedChecksum is the checksum the footer's fields give, to compare
// with the stored Checksum.
func (f Footer) ComputedChecksum() uint32 {
	var b [FooterSize]byte
	f.put(b[:])
	return f.Checksum
}

// ComputedChecksum is the checksum the header's fields give, to compare
// with the stored Checksum.
func (h Header) ComputedChecksum() uint32 {
	var b [HeaderSize]byte
	h.put(b[:])
	return h.Checksum
}

// ComputedChecksum is the checksum map gives, to compare with the
// header's (Open ignores a batmap whose checksum is wrong).
func (h BatmapHeader) ComputedChecksum(m []byte) uint32 { return batmapChecksum(m) }

// CodeName is the locator's platform code as its four characters
// ("MacX", "W2ku", "W2ru").
func (l Locator) CodeName() string {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], l.Code)
	return string(b[:])
}
