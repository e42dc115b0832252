package vhdtest

import (
	"bytes"
	"encoding/binary"
	"os"
	"testing"
)

// Old tap images (creator version 0.1), made and read from the format's
// description alone (BLKTAP-OUTPUT.md "Old images", VHD-FACTS.md), never
// from libvhd's code, so that tests judge libvhd against the description.

// OldTapVersion is the creator version of tap images before 1.1.
const OldTapVersion = 0x00000001

// OldTapBit says whether bit n of a bitmap in the old order is set:
// little-endian 32-bit words, bit n at bit n%32 of word n/32.
func OldTapBit(bitmap []byte, n int) bool {
	return binary.LittleEndian.Uint32(bitmap[4*(n/32):])>>(n%32)&1 == 1
}

// SpecBit says whether bit n of a bitmap in the specification's order is
// set: most significant bit first.
func SpecBit(bitmap []byte, n int) bool { return bitmap[n/8]&(0x80>>(n%8)) != 0 }

// Layout is what a dynamic or differencing VHD's metadata says, read from
// the raw bytes of the file.
type Layout struct {
	File      []byte
	Footer    []byte // the 512 bytes at the end of the file
	TableOff  int64
	Entries   int
	BlockSize int64
	BitmapLen int64 // bytes of one block's bitmap
}

// ReadLayout reads a dynamic or differencing image's file.
func ReadLayout(t testing.TB, path string) Layout {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 512+1024 || !bytes.Equal(b[len(b)-512:][:8], []byte("conectix")) {
		t.Fatalf("%s: no footer at the end", path)
	}
	be := binary.BigEndian
	l := Layout{File: b, Footer: b[len(b)-512:]}
	h := b[be.Uint64(l.Footer[0x10:]):]
	if !bytes.Equal(h[:8], []byte("cxsparse")) {
		t.Fatalf("%s: no dynamic header", path)
	}
	l.TableOff = int64(be.Uint64(h[0x10:]))
	l.Entries = int(be.Uint32(h[0x1C:]))
	l.BlockSize = int64(be.Uint32(h[0x20:]))
	l.BitmapLen = (l.BlockSize/512/8 + 511) / 512 * 512
	return l
}

// Bitmap is block blk's raw bitmap, nil if the block is not allocated.
func (l Layout) Bitmap(blk int) []byte {
	e := binary.BigEndian.Uint32(l.File[l.TableOff+4*int64(blk):])
	if e == 0xFFFFFFFF {
		return nil
	}
	off := int64(e) * 512
	return l.File[off : off+l.BitmapLen]
}

// BitMismatches counts the bitmap bits of the image at path, read with
// bit (OldTapBit or SpecBit), that disagree with written, which says
// whether the disk's sector s was written; a sector of an unallocated
// block reads as clear.
func BitMismatches(t testing.TB, path string, written func(s int64) bool, bit func(bitmap []byte, n int) bool) int {
	t.Helper()
	l := ReadLayout(t, path)
	spb := int(l.BlockSize / 512)
	n := 0
	for blk := range l.Entries {
		bm := l.Bitmap(blk)
		for s := range spb {
			if (bm != nil && bit(bm, s)) != written(int64(blk*spb+s)) {
				n++
			}
		}
	}
	return n
}

// OldTap rewrites a tap image made by libvhd (creator version 1.3 with a
// batmap, dynamic or differencing) into what blktap wrote before 1.1:
// creator version 0.1 in both footers, every bitmap in the old order, no
// batmap (blktap looks for one from version 1.2 on).
func OldTap(t testing.TB, path string) {
	t.Helper()
	l := ReadLayout(t, path)
	be := binary.BigEndian
	for blk := range l.Entries {
		bm := l.Bitmap(blk)
		if bm == nil {
			continue
		}
		old := make([]byte, len(bm))
		le := binary.LittleEndian
		for n := range 8 * len(bm) {
			if SpecBit(bm, n) {
				w := old[4*(n/32):]
				le.PutUint32(w, le.Uint32(w)|1<<(n%32))
			}
		}
		copy(bm, old)
	}
	batmap := l.TableOff + (4*int64(l.Entries)+511)/512*512
	if bytes.Equal(l.File[batmap:][:8], []byte("tdbatmap")) {
		end := int64(be.Uint64(l.File[batmap+8:])) + 512*int64(be.Uint32(l.File[batmap+16:]))
		clear(l.File[batmap:end])
	}
	for _, f := range [][]byte{l.Footer, l.File[:512]} {
		be.PutUint32(f[0x20:], OldTapVersion)
		be.PutUint32(f[0x40:], FooterChecksum(f))
	}
	if err := os.WriteFile(path, l.File, 0o644); err != nil {
		t.Fatal(err)
	}
}

// FooterChecksum is the checksum a 512-byte footer should carry: the NOT
// of the sum of its bytes, the checksum field counted as zero.
func FooterChecksum(f []byte) uint32 {
	var sum uint32
	for i, c := range f[:512] {
		if i < 0x40 || i >= 0x44 {
			sum += uint32(c)
		}
	}
	return ^sum
}
