package libvhd

import (
	"io"
	"math/bits"
)

// Sector bitmaps of tap creator version 0.1 images are little-endian
// 32-bit words, sector n at bit n%32 (least significant first) of word
// n/32 (BLKTAP-OUTPUT.md, "Old images"); the VHD specification and every
// later image put sector n at bit 0x80>>(n%8) of byte n/8. Byte k of a
// little-endian word holds its bits 8k to 8k+7, so sector n lies in byte
// n/8 in both orders: they differ only in the direction of the bits
// within each byte, and reversing every byte converts either way.
//
// A bitmap in memory is always in the specification's order. It is
// converted as it is loaded from an old image and as it is stored back:
// an old image keeps its own order, as blktap2 kept it, so the blktap of
// its time still reads it.

// oldTapCreatorVersion is blktap's creator version before 1.1: its images
// have bitmaps in the old order.
const oldTapCreatorVersion = 0x00000001

// oldBitOrder reports whether the image's bitmaps are in the 0.1 order.
func (f *Footer) oldBitOrder() bool {
	return f.CreatorApp == CreatorTap && f.CreatorVersion == oldTapCreatorVersion
}

// reverseBitOrder converts a bitmap from one order to the other in place.
func reverseBitOrder(m []byte) {
	for i, b := range m {
		m[i] = bits.Reverse8(b)
	}
}

// readBitmap reads the bitmap stored at off into m, in memory order.
func readBitmap(r io.ReaderAt, old bool, m []byte, off int64) error {
	if err := readFull(r, m, off); err != nil {
		return err
	}
	if old {
		reverseBitOrder(m)
	}
	return nil
}

// writeBitmap stores m at off in the file's order and leaves m as it was.
// An old-order bitmap is converted in place for the write and back, not
// through a copy, so that the write path allocates nothing; the caller
// holds whatever guards m.
func writeBitmap(w io.WriterAt, old bool, m []byte, off int64) error {
	if old {
		reverseBitOrder(m)
		defer reverseBitOrder(m)
	}
	_, err := w.WriteAt(m, off)
	return err
}

// loadBitmap reads one of the image's bitmaps into m.
func (im *Image) loadBitmap(m []byte, off int64) error {
	return readBitmap(im.file, im.footer.oldBitOrder(), m, off)
}

// storeBitmap writes m as block blk's bitmap, at off.
func (im *Image) storeBitmap(blk int, m []byte, off int64) error {
	return writeBitmap(im.bitmapWriter(blk), im.footer.oldBitOrder(), m, off)
}
