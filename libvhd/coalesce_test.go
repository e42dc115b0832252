package libvhd

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"gotap.dev/libvhd/imagelock"
)

const coalesceDisk = 12 << 20

// chainFixture is base (a dynamic VHD, or a raw file) under children
// c1..cN, each given random writes; views[i] is how image i of paths
// reads (0: the base).
type chainFixture struct {
	paths []string
	views [][]byte
}

func makeChain(t *testing.T, fsys FS, dir string, depth int, raw bool, block uint32) chainFixture {
	t.Helper()
	rng := rand.New(rand.NewPCG(uint64(depth), 7))
	model := make([]byte, coalesceDisk)
	base := filepath.Join(dir, "base.vhd")
	if raw {
		base = filepath.Join(dir, "base.raw")
		for i := range model {
			model[i] = byte(rng.Uint32())
		}
		if err := os.WriteFile(base, model, 0o644); err != nil {
			t.Fatal(err)
		}
	} else {
		im, err := Create(base, CreateOptions{Type: Dynamic, Size: coalesceDisk, BlockSize: block, FS: fsys})
		if err != nil {
			t.Fatal(err)
		}
		randomWrites(t, rng, im, model, 20, 4096, 1<<20)
		closeOK(t, im)
	}
	f := chainFixture{paths: []string{base}, views: [][]byte{bytes.Clone(model)}}
	for i := 1; i <= depth; i++ {
		path := filepath.Join(dir, fmt.Sprintf("c%d.vhd", i))
		im, err := Create(path, CreateOptions{Parent: f.paths[i-1], ParentRaw: raw && i == 1, BlockSize: block, FS: fsys})
		if err != nil {
			t.Fatal(err)
		}
		randomWrites(t, rng, im, model, 30, 512, 256<<10)
		closeOK(t, im)
		f.paths = append(f.paths, path)
		f.views = append(f.views, bytes.Clone(model))
	}
	return f
}

// readImage is path's virtual disk, through its chain, read whoever
// writes it.
func readImage(t *testing.T, fsys FS, path string) []byte {
	t.Helper()
	im, err := Open(path, OpenOptions{ReadOnly: true, NoLock: true, FS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	b := make([]byte, im.Size())
	if _, err := im.ReadAt(b, 0); err != nil {
		t.Fatal(err)
	}
	return b
}

// heldSectors counts the sectors any of paths holds, from their bitmaps
// (one block size for all).
func heldSectors(t *testing.T, fsys FS, paths ...string) int64 {
	t.Helper()
	union := map[int][]byte{}
	var size, block int64
	for _, p := range paths {
		im, err := Open(p, OpenOptions{ReadOnly: true, NoParent: true, FS: fsys})
		if err != nil {
			t.Fatal(err)
		}
		size, block = im.Size(), im.BlockSize()
		for blk := range len(im.BAT()) {
			bm, err := im.Bitmap(blk)
			if err != nil {
				t.Fatal(err)
			}
			if bm != nil && union[blk] == nil {
				union[blk] = make([]byte, len(bm))
			}
			for i := range bm {
				union[blk][i] |= bm[i]
			}
		}
		im.Close()
	}
	var n int64
	for blk, bm := range union {
		for off := int64(blk) * block; off < min(int64(blk+1)*block, size); off += SectorSize {
			if testBit(bm, int(off%block/SectorSize)) {
				n++
			}
		}
	}
	return n
}

func mustEqualBytes(t *testing.T, what string, got, want []byte) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d bytes; want %d", what, len(got), len(want))
	}
	for i := range got {
		if got[i] != want[i] {
			t.Fatalf("%s: first difference at byte %d (sector %d): got %#x, want %#x", what, i, i/SectorSize, got[i], want[i])
		}
	}
}

func checkValid(t *testing.T, fsys FS, path string) {
	t.Helper()
	problems, err := Check(path, CheckOptions{Parents: true, Bitmaps: true, FS: fsys})
	if err != nil {
		t.Fatalf("Check(%s): %v", path, err)
	}
	for _, p := range problems {
		t.Errorf("Check(%s): %v", path, p)
	}
}

// Each level of a 3-deep chain coalesced in turn, top down: the parent
// then reads as the child did, the child is unchanged, and the count is
// the child's set bits.
func TestCoalesceEachLevel(t *testing.T) {
	for _, raw := range []bool{false, true} {
		t.Run(fmt.Sprintf("raw base %v", raw), func(t *testing.T) {
			fsys := OSFS{}
			f := makeChain(t, fsys, t.TempDir(), 3, raw, 0)
			top := f.views[3]
			for i := 3; i >= 1; i-- {
				child, parent := f.paths[i], f.paths[i-1]
				want := heldSectors(t, fsys, child)
				res, err := Coalesce(child, CoalesceOptions{})
				if err != nil {
					t.Fatalf("Coalesce(%s): %v", child, err)
				}
				if res.Sectors != want || res.Target != parent {
					t.Errorf("Coalesce(%s) = %d sectors into %s; want %d into %s", child, res.Sectors, res.Target, want, parent)
				}
				mustEqualBytes(t, child+" after", readImage(t, fsys, child), top)
				if raw && i == 1 {
					got, err := os.ReadFile(parent)
					if err != nil {
						t.Fatal(err)
					}
					mustEqualBytes(t, parent, got, top)
					continue
				}
				mustEqualBytes(t, parent, readImage(t, fsys, parent), top)
				checkValid(t, fsys, parent)
				checkValid(t, fsys, child)
			}
		})
	}
}

// -a: the three images above the base merged into it in one pass, the
// topmost sector winning; the count is their union.
func TestCoalesceAncestor(t *testing.T) {
	fsys := OSFS{}
	f := makeChain(t, fsys, t.TempDir(), 3, false, 0)
	want := heldSectors(t, fsys, f.paths[1], f.paths[2], f.paths[3])
	res, err := Coalesce(f.paths[3], CoalesceOptions{Ancestor: f.paths[0]})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sectors != want || len(res.Merged) != 3 {
		t.Errorf("Coalesce -a = %d sectors from %q; want %d from 3 images", res.Sectors, res.Merged, want)
	}
	mustEqualBytes(t, "base", readImage(t, fsys, f.paths[0]), f.views[3])
	mustEqualBytes(t, "child", readImage(t, fsys, f.paths[3]), f.views[3])
	checkValid(t, fsys, f.paths[0])
}

// -s: zeros bound for a block the dynamic target does not hold allocate
// nothing; zeros over data it holds are written.
func TestCoalesceSparse(t *testing.T) {
	dir := t.TempDir()
	base, child := filepath.Join(dir, "base.vhd"), filepath.Join(dir, "child.vhd")
	im, err := Create(base, CreateOptions{Type: Dynamic, Size: 8 << 20})
	if err != nil {
		t.Fatal(err)
	}
	mustWrite(t, im, bytes.Repeat([]byte{7}, 1<<20), 0)
	closeOK(t, im)
	if im, err = Create(child, CreateOptions{Parent: base}); err != nil {
		t.Fatal(err)
	}
	mustWrite(t, im, make([]byte, 1<<20), 512<<10) // half over base data
	mustWrite(t, im, make([]byte, 1<<20), 4<<20)   // a block base lacks
	closeOK(t, im)
	if _, err := Coalesce(child, CoalesceOptions{Sparse: true}); err != nil {
		t.Fatal(err)
	}
	b, err := Open(base, OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if n := b.AllocatedBlocks(); n != 1 {
		t.Errorf("base holds %d blocks after a sparse coalesce; want 1", n)
	}
	want := make([]byte, 8<<20)
	copy(want, bytes.Repeat([]byte{7}, 512<<10))
	got := make([]byte, 8<<20)
	b.ReadAt(got, 0)
	mustEqualBytes(t, "base", got, want)
}

func TestCoalesceRefusals(t *testing.T) {
	dir := t.TempDir()
	f := makeChain(t, OSFS{}, dir, 2, false, 0)
	big := filepath.Join(dir, "big.vhd")
	im, err := Create(big, CreateOptions{Parent: f.paths[0], Size: 2 * coalesceDisk})
	if err != nil {
		t.Fatal(err)
	}
	closeOK(t, im)
	for _, tc := range []struct {
		name  string
		child string
		opts  CoalesceOptions
		want  error
	}{
		{"non-differencing", f.paths[0], CoalesceOptions{}, ErrNotDifferencing},
		{"ancestor not in the chain", f.paths[1], CoalesceOptions{Ancestor: big}, ErrNotAncestor},
		{"ancestor is the child", f.paths[1], CoalesceOptions{Ancestor: f.paths[1]}, ErrNotAncestor},
		{"child larger than parent", big, CoalesceOptions{}, ErrOutOfRange},
		{"missing", filepath.Join(dir, "none.vhd"), CoalesceOptions{}, os.ErrNotExist},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Coalesce(tc.child, tc.opts); !errors.Is(err, tc.want) {
				t.Errorf("Coalesce(%s) = %v; want %v", tc.child, err, tc.want)
			}
		})
	}
	t.Run("parent in use", func(t *testing.T) {
		w, err := Open(f.paths[1], OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		before := readImage(t, OSFS{}, f.paths[1])
		if _, err := Coalesce(f.paths[2], CoalesceOptions{}); !errors.Is(err, imagelock.ErrLocked) {
			t.Errorf("Coalesce into a parent another opener writes = %v; want ErrLocked", err)
		}
		mustEqualBytes(t, "parent", readImage(t, OSFS{}, f.paths[1]), before)
	})
}
