package libvhd

import (
	"fmt"
	"slices"
)

// checkDataChunk bounds each read of checkData, whatever the block size.
const checkDataChunk = 1 << 20

// checkData: a sector whose bitmap bit is clear holds zeros, which is what
// blktap's `check -b` asks. Readers that ignore a dynamic disk's bitmap
// (QEMU, libvhdi) would show such data; and a bitmap in another bit order
// than the image's shows up here as data under clear bits. Blocks marked
// bad (checkOverlaps) are not read.
func (c *checker) checkData(h Header, bat []uint32, bad []byte) error {
	bmLen := bitmapSize(h.BlockSize)
	bm := make([]byte, bmLen)
	buf := make([]byte, min(int64(h.BlockSize), checkDataChunk))
	sectors := int(h.BlockSize / SectorSize)
	for blk, e := range bat {
		if e == unallocated || testBit(bad, blk) {
			continue
		}
		off := int64(e) * SectorSize
		if err := readBitmap(c.f, c.footer.oldBitOrder(), bm, off); err != nil {
			return fmt.Errorf("read bitmap of block %d: %w", blk, err)
		}
		for s := 0; s < sectors; {
			if testBit(bm, s) {
				s++
				continue
			}
			n := 1
			for s+n < sectors && n*SectorSize < len(buf) && !testBit(bm, s+n) {
				n++
			}
			p := buf[:n*SectorSize]
			if err := readFull(c.f, p, off+bmLen+int64(s)*SectorSize); err != nil {
				return fmt.Errorf("read block %d: %w", blk, err)
			}
			if i := slices.IndexFunc(p, func(b byte) bool { return b != 0 }); i >= 0 {
				c.add("bitmap", off, "sector %#x of block %#x has data where bitmap is clear", s+i/SectorSize, blk)
				break
			}
			s += n
		}
	}
	return nil
}
