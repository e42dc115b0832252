package libvhd

import (
	"bytes"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

// stubCached is a File with a page-cache writer, for findBitmapPages.
type stubCached struct{ File }

func (stubCached) PageCacheWriter() io.WriterAt { return nil }

func TestFindBitmapPages(t *testing.T) {
	const mib = 1 << 20
	page := pageSize
	for _, tc := range []struct {
		name      string
		bmSize    int64
		blockSize int64
		offs      []int64 // each block's offset in the file, -1: unallocated
		alone     []bool
	}{{
		name: "page-aligned data, as libvhd allocates", bmSize: 512, blockSize: 2 * mib,
		offs:  []int64{3*page - 512, -1, 3*page + 2*mib + page - 512},
		alone: []bool{true, false, true},
	}, {
		name: "QEMU's layout: bitmap and data back to back from the footer's place", bmSize: 512, blockSize: 2 * mib,
		offs:  []int64{3*page + 512, 3*page + 1024 + 2*mib},
		alone: []bool{false, false},
	}, {
		name: "aligned data after a block ending mid-page", bmSize: 512, blockSize: 2 * mib,
		// Block 1 (QEMU's) ends 512 bytes into the page of block 0's bitmap.
		offs:  []int64{2*page + 2*mib + page - 512, 2 * page},
		alone: []bool{false, false},
	}, {
		name: "out of file order", bmSize: 512, blockSize: 2 * mib,
		offs:  []int64{2*page + 2*mib + page - 512, 2*page - 512},
		alone: []bool{true, true},
	}, {
		name: "a bitmap of two pages", bmSize: 2 * page, blockSize: 32 * page * 512,
		offs:  []int64{2 * page},
		alone: []bool{true},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			im := &Image{file: stubCached{}, bmSize: tc.bmSize, blockSize: tc.blockSize, bat: make([]uint32, len(tc.offs))}
			for i, off := range tc.offs {
				im.bat[i] = unallocated
				if off >= 0 {
					im.bat[i] = uint32(off / SectorSize)
				}
			}
			im.findBitmapPages()
			for i, want := range tc.alone {
				if got := testBit(im.bitmapAlone, i); got != want {
					t.Errorf("block %d at %#x: alone %v; want %v", i, tc.offs[i], got, want)
				}
			}
		})
	}
	t.Run("read-only", func(t *testing.T) {
		im := &Image{file: stubCached{}, readOnly: true, bmSize: 512, blockSize: 2 * mib, bat: []uint32{uint32(page-512) / SectorSize}}
		if im.findBitmapPages(); im.bitmapAlone != nil {
			t.Error("a read-only image got a page-cache writer")
		}
	})
}

// cacheCountFS opens real files whose page-cache writer counts the bitmap
// writes it takes; the main file's writes at bitmap offsets are counted
// too.
type cacheCountFS struct {
	OSFS
	cached, direct int
	bitmaps        map[int64]bool // offsets of bitmaps, as the test knows them
}

type cacheCountFile struct {
	File
	fs *cacheCountFS
}

func (c *cacheCountFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := c.OSFS.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return cacheCountFile{f, c}, nil
}

func (f cacheCountFile) WriteAt(p []byte, off int64) (int, error) {
	if f.fs.bitmaps[off] {
		f.fs.direct++
	}
	return f.File.WriteAt(p, off)
}

func (f cacheCountFile) PageCacheWriter() io.WriterAt { return cachedSide{f} }

type cachedSide struct{ f cacheCountFile }

func (c cachedSide) WriteAt(p []byte, off int64) (int, error) {
	c.f.fs.cached++
	return c.f.File.WriteAt(p, off)
}

// TestBitmapsThroughPageCache writes into the blocks of a QEMU-made image
// (bitmaps beside data) and into blocks libvhd allocates (page-aligned):
// only the latter's bitmaps take the page-cache writer, and the image
// passes check and reads back what was written, to libvhd and to QEMU.
func TestBitmapsThroughPageCache(t *testing.T) {
	const mib = 1 << 20
	img := filepath.Join(t.TempDir(), "qemu.vhd")
	vhdtest.Run(t, "qemu-img", "create", "-q", "-f", "vpc", img, "16M")
	vhdtest.Run(t, "qemu-io", "-f", "vpc", "-c", "write -P 0x11 0 4k", "-c", "write -P 0x22 2M 4k", img)
	// QEMU fills a new block's bitmap: keep the bits of the written 4 KiB
	// only, so that later writes have bits to set.
	for _, off := range qemuBitmaps(t, img) {
		bm := make([]byte, SectorSize)
		bm[0] = 0xff
		f, err := os.OpenFile(img, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteAt(bm, off)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	c := &cacheCountFS{bitmaps: map[int64]bool{}}
	im, err := Open(img, OpenOptions{FS: c})
	if err != nil {
		t.Fatal(err)
	}
	for blk := range 2 {
		if testBit(im.bitmapAlone, blk) {
			t.Fatalf("QEMU's block %d at %#x: bitmap alone in its page", blk, int64(im.bat[blk])*SectorSize)
		}
		c.bitmaps[int64(im.bat[blk])*SectorSize] = true
	}
	want := map[int64][]byte{}
	write := func(off int64, b byte) {
		t.Helper()
		p := bytes.Repeat([]byte{b}, 4096)
		if _, err := im.WriteAt(p, off); err != nil {
			t.Fatal(err)
		}
		want[off] = p
	}
	write(64<<10, 0x33) // QEMU's blocks: their bitmaps beside data
	write(2*mib+64<<10, 0x44)
	if c.cached != 0 || c.direct != 2 {
		t.Fatalf("QEMU's blocks: %d bitmap writes through the page cache, %d around it; want 0 and 2", c.cached, c.direct)
	}
	// New blocks, placed by libvhd: the first may share its bitmap's
	// page with the end of QEMU's last block, those after it may not.
	write(4*mib, 0x55)
	first := c.cached
	write(8*mib+4096, 0x66)
	write(12*mib, 0x77)
	write(8*mib+8192, 0x88) // into an allocated one
	if c.cached-first != 3 {
		t.Fatalf("libvhd's blocks: %d bitmap writes through the page cache; want 3", c.cached-first)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}

	im, err = Open(img, OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	for off, p := range want {
		got := make([]byte, len(p))
		if _, err := im.ReadAt(got, off); err != nil || !bytes.Equal(got, p) {
			t.Errorf("at %d: read back %x… (%v); want %x…", off, got[:4], err, p[:4])
		}
	}
	problems, err := Check(img, CheckOptions{Bitmaps: true, Data: true})
	if err != nil || len(problems) != 0 {
		t.Errorf("check: %v %v", problems, err)
	}
	raw, err := os.ReadFile(qemuConvert(t, img)) // QEMU's reading of it
	if err != nil {
		t.Fatal(err)
	}
	for off, p := range want {
		if !bytes.Equal(raw[off:off+int64(len(p))], p) {
			t.Errorf("at %d: QEMU reads %x…; want %x…", off, raw[off:off+4], p[:4])
		}
	}
}

// qemuBitmaps is where the bitmaps of img's allocated blocks lie.
func qemuBitmaps(t *testing.T, img string) []int64 {
	t.Helper()
	im, err := Open(img, OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	var offs []int64
	for _, e := range im.bat {
		if e != unallocated {
			offs = append(offs, int64(e)*SectorSize)
		}
	}
	return offs
}

// TestBitmapCachePins: a pinned slot is never evicted, and at most half
// the slots are pinned, so that a victim is always found once no slot is
// dirty.
func TestBitmapCachePins(t *testing.T) {
	c := newBitmapCache(16, 512, 8*512)
	for b := range 8 {
		c.assign(b, b)
	}
	var pinned []int32
	for b := range 8 {
		if i := c.pin(b); i >= 0 {
			pinned = append(pinned, i)
		}
	}
	if len(pinned) != 4 {
		t.Fatalf("%d slots pinned; want 4, half", len(pinned))
	}
	if c.pin(15) >= 0 {
		t.Error("pinned a block not cached")
	}
	for range 32 {
		v := c.victim()
		if v < 0 || c.slots[v].pins > 0 {
			t.Fatalf("victim %d (pins %d)", v, c.slots[max(v, 0)].pins)
		}
		c.assign(v, 8+v)
	}
	for _, i := range pinned {
		c.unpin(i)
	}
	if c.pins != 0 || c.pin(0) < 0 {
		t.Errorf("after unpinning: %d pins, block 0 not pinnable", c.pins)
	}
}
