package libvhd

import (
	"bytes"
	"slices"
	"strings"
	"testing"
)

// fuzzMaxWriteBlock bounds the blocks FuzzWrite writes into: a new block
// is laid out whole in the in-memory file, and the format allows 256 MiB.
const fuzzMaxWriteBlock = 4 << 20

// FuzzWrite opens any file as an image for writing, writes a few ranges,
// closes it and opens it again: the written bytes must read back, and the
// rest of the disk as it read before. A block lying over metadata or over
// another block (blockconflict.go) would break one or the other, so Open
// must refuse such an image for writing. Differencing images, whose
// writes need their parent, are FuzzOpen's alone.
func FuzzWrite(f *testing.F) {
	for _, s := range seedImages(f) {
		f.Add(s.file)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkWrite(t, data)
		if fixed := fixChecksums(data); !bytes.Equal(fixed, data) {
			checkWrite(t, fixed)
		}
	})
}

func checkWrite(t *testing.T, data []byte) {
	fsys := newCrashFS()
	fsys.put(fuzzPath, data)
	opts := OpenOptions{NoParent: true, BitmapCache: 4 << 10, FS: fsys}
	im, err := Open(fuzzPath, opts)
	if err != nil {
		return
	}
	if im.Type() == Differencing || im.BlockSize() > fuzzMaxWriteBlock {
		im.Close()
		return
	}
	ranges := fuzzRanges(im.Size())
	want := readRanges(t, im, ranges)
	for i, w := range fuzzWrites(im.Size(), im.BlockSize()) {
		b := bytes.Repeat([]byte{byte(0xA1 + i)}, int(w[1]))
		if _, err := im.WriteAt(b, w[0]); err != nil {
			t.Fatalf("WriteAt(%d bytes at %d) of a %v disk opened for writing: %v", w[1], w[0], im.Type(), err)
		}
		for j, r := range ranges { // what the ranges must now read
			lo, hi := max(r[0], w[0]), min(r[0]+r[1], w[0]+w[1])
			if lo < hi {
				copy(want[j][lo-r[0]:hi-r[0]], b[lo-w[0]:])
			}
		}
	}
	if err := im.Close(); err != nil {
		t.Fatalf("Close after writes: %v", err)
	}
	opts.ReadOnly = true
	if im, err = Open(fuzzPath, opts); err != nil {
		t.Fatalf("the image no longer opens after writes: %v", err)
	}
	defer im.Close()
	for j, got := range readRanges(t, im, ranges) {
		if !bytes.Equal(got, want[j]) {
			at := ranges[j][0] + int64(firstDifference(got, want[j]))
			t.Fatalf("after writes and a reopen, byte %d reads %#x; want %#x", at, got[at-ranges[j][0]], want[j][at-ranges[j][0]])
		}
	}
}

// fuzzWrites are the ranges FuzzWrite writes on a disk of size bytes:
// unaligned, at the start, across a block boundary, in the middle and to
// the last byte.
func fuzzWrites(size, blockSize int64) [][2]int64 {
	var out [][2]int64
	for _, w := range [][2]int64{{0, 1000}, {blockSize - 100, 700}, {size/2 - 300, 700}, {size - 700, 700}} {
		off := max(w[0], 0)
		if n := min(w[0]+w[1], size) - off; n > 0 {
			out = append(out, [2]int64{off, n})
		}
	}
	return out
}

// readRanges reads each range whole; a disk opened without its parent
// is not differencing here, so every read must succeed.
func readRanges(t *testing.T, im *Image, ranges [][2]int64) [][]byte {
	out := make([][]byte, len(ranges))
	for i, r := range ranges {
		out[i] = make([]byte, r[1])
		if _, err := im.ReadAt(out[i], r[0]); err != nil {
			t.Fatalf("ReadAt(%d bytes at %d) of a %v disk of %d bytes: %v", r[1], r[0], im.Type(), im.Size(), err)
		}
	}
	return out
}

// put makes name a file holding a copy of b, all of it durable.
func (c *crashFS) put(name string, b []byte) {
	c.files[name] = &memFile{fs: c, written: bytes.Clone(b), durable: bytes.Clone(b)}
}

// onlyReadable reports whether im opened read-only with a conflict a
// writable open refuses: what its disk reads there is not data.
func onlyReadable(im *Image) bool {
	return slices.ContainsFunc(im.Warnings(), func(w string) bool { return strings.Contains(w, onlySafeToRead) })
}

func firstDifference(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
