package libvhd

import (
	"bytes"
	"fmt"
	"testing"
)

// fillFixture is resizeFixture's image (data in five of its 16 blocks,
// partly): a maker of fresh copies and the disk it reads.
func fillFixture(t *testing.T, typ DiskType) (func() *crashFS, []byte) {
	t.Helper()
	fresh, old, _ := resizeFixture(t, resizeCase{typ: typ, from: 16*crashBlock - 3*SectorSize, to: 16 * crashBlock})
	return fresh, old
}

// Fill is cut after every write call (torn or not): every survivor checks
// valid, with no warning, and reads as before; the uncut run leaves every
// block allocated, and, without -b, every bitmap full.
func TestFillCrashSafety(t *testing.T) {
	for _, typ := range []DiskType{Dynamic, Differencing} {
		for _, batOnly := range []bool{false, true} {
			t.Run(fmt.Sprintf("%v, BAT only %v", typ, batOnly), func(t *testing.T) {
				fresh, model := fillFixture(t, typ)
				fill := func(c *crashFS) (int, error) {
					return Fill("img.vhd", FillOptions{BATOnly: batOnly, FS: truncFS{c}})
				}
				c := fresh()
				n, err := fill(c)
				if err != nil || n != 11 {
					t.Fatalf("Fill = %d, %v; want 11 blocks allocated", n, err)
				}
				judgeFilled(t, c, model, "uncut run")
				im, err := Open("img.vhd", OpenOptions{ReadOnly: true, FS: c})
				if err != nil {
					t.Fatal(err)
				}
				if got := im.AllocatedBlocks(); got != 16 {
					t.Errorf("%d blocks allocated; want 16", got)
				}
				full := 0
				for blk := range 16 {
					if ok, _ := im.holdsAllLocked(blk, min(crashBlock, im.Size()-int64(blk)*crashBlock)); ok {
						full++
					}
				}
				// -b fills the bitmaps of a dynamic image's new blocks only.
				want := 16
				if batOnly {
					want = map[DiskType]int{Dynamic: 11, Differencing: 0}[typ]
				}
				if full != want {
					t.Errorf("%d blocks hold all their sectors; want %d", full, want)
				}
				mustClose(t, im)
				writes := c.writes
				for k := range writes {
					for _, tear := range []bool{false, true} {
						c := fresh()
						c.limit, c.tear = k, tear
						if _, err := fill(c); err == nil {
							t.Fatalf("cut after write %d of %d: Fill reported success", k, writes)
						}
						for kind, s := range allSurvivors(c, k) {
							judgeFilled(t, s, model, fmt.Sprintf("cut after write %d of %d (torn=%v), %s", k, writes, tear, kind))
						}
					}
				}
			})
		}
	}
}

func judgeFilled(t *testing.T, s *crashFS, model []byte, what string) {
	t.Helper()
	// As crash_test.go: not Data, since a crash between a sector's data
	// and its bit leaves data under a clear bit, read as the parent.
	problems, err := Check("img.vhd", CheckOptions{Parents: true, Bitmaps: true, FS: s})
	if err != nil {
		t.Fatalf("%s: Check: %v", what, err)
	}
	for _, p := range problems {
		t.Errorf("%s: Check: %v", what, p)
	}
	im, err := Open("img.vhd", OpenOptions{ReadOnly: true, FS: s})
	if err != nil {
		t.Fatalf("%s: Open: %v", what, err)
	}
	defer mustClose(t, im)
	if w := im.Warnings(); len(w) > 0 {
		t.Errorf("%s: Open warned: %q", what, w)
	}
	if got := readImage(t, s, "img.vhd"); !bytes.Equal(got, model) {
		t.Fatalf("%s: the disk reads differently (first difference at %d)", what, firstDiff(got, model))
	}
}
