package libvhd

import (
	"bytes"
	"encoding/binary"
	"path/filepath"
	"strings"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

// Old tap images (creator version 0.1, bitmaps in blktap2's order), made
// by vhdtest.OldTap from the format's description and judged bit by bit
// with vhdtest.OldTapBit: libvhd reads and writes them in their order.

const (
	oldBlock = 64 << 10
	oldSize  = 8 * oldBlock
)

// run is a byte range of the disk.
type run struct{ off, len int64 }

// oldRuns are writes into several blocks. Runs that start or end inside
// a bitmap byte tell the two bit orders apart: sectors 1-2 are bits 1-2
// of byte 0 in one order and bits 5-6 in the other.
var oldRuns = []run{
	{512, 1024},                      // sectors 1-2 of block 0
	{oldBlock + 7*512, 3 * 512},      // sectors 7-9 of block 1: across a byte
	{3*oldBlock + 30*512, 4 * 512},   // sectors 30-33 of block 3: across a word
	{5 * oldBlock, oldBlock},         // the whole of block 5
	{7*oldBlock + 100*512, 13 * 512}, // sectors 100-112 of the last block
}

// writeRuns fills each run with its own pattern in im and in model.
func writeRuns(t *testing.T, im *Image, model []byte, seed byte, runs []run) {
	t.Helper()
	for i, r := range runs {
		b := make([]byte, r.len)
		fillPattern(b, seed+byte(16*i))
		mustWrite(t, im, b, r.off)
		copy(model[r.off:], b)
	}
}

// newOldTap makes an old tap image at path holding oldRuns, differencing
// over an old tap parent full of data when diff is set, and returns the
// model of its disk.
func newOldTap(t *testing.T, dir string, diff bool) (path string, model []byte) {
	t.Helper()
	model = make([]byte, oldSize)
	opts := CreateOptions{Type: Dynamic, Size: oldSize, BlockSize: oldBlock}
	path = filepath.Join(dir, "old.vhd")
	if diff {
		parent := filepath.Join(dir, "parent.vhd")
		im, err := Create(parent, opts)
		if err != nil {
			t.Fatal(err)
		}
		writeRuns(t, im, model, 0x30, []run{{0, oldSize}})
		mustClose(t, im)
		vhdtest.OldTap(t, parent)
		opts.Parent = parent
	}
	im, err := Create(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	writeRuns(t, im, model, 0x80, oldRuns)
	mustClose(t, im)
	vhdtest.OldTap(t, path)
	return path, model
}

// inRuns reports whether the disk's sector s was written by runs.
func inRuns(runs []run, s int64) bool {
	for _, r := range runs {
		if s*SectorSize >= r.off && s*SectorSize < r.off+r.len {
			return true
		}
	}
	return false
}

// bitMismatches counts the bits of path's bitmaps, read with bit, that
// disagree with the sectors runs wrote.
func bitMismatches(t *testing.T, path string, runs []run, bit func([]byte, int) bool) int {
	t.Helper()
	return vhdtest.BitMismatches(t, path, func(s int64) bool { return inRuns(runs, s) }, bit)
}

func TestReverseBitOrder(t *testing.T) {
	tests := [][]int{{0}, {1, 2}, {7, 8}, {31}, {32}, {30, 31, 32, 33}, {5, 63, 64, 4095}}
	for _, sectors := range tests {
		spec, old := make([]byte, 512), make([]byte, 512)
		for _, n := range sectors {
			setBit(spec, n)
			w := binary.LittleEndian.Uint32(old[4*(n/32):])
			binary.LittleEndian.PutUint32(old[4*(n/32):], w|1<<(n%32))
		}
		got := bytes.Clone(spec)
		if reverseBitOrder(got); !bytes.Equal(got, old) {
			t.Errorf("sectors %v: spec %x converts to %x, want %x", sectors, spec[:8], got[:8], old[:8])
		}
		if reverseBitOrder(got); !bytes.Equal(got, spec) {
			t.Errorf("sectors %v: converting twice gives %x, want %x", sectors, got[:8], spec[:8])
		}
	}
}

// The image the tests make is what BLKTAP-OUTPUT.md describes.
func TestOldTapLayout(t *testing.T) {
	path, _ := newOldTap(t, t.TempDir(), false)
	l := vhdtest.ReadLayout(t, path)
	for name, f := range map[string][]byte{"EOF footer": l.Footer, "footer copy": l.File[:FooterSize]} {
		if app, ver := string(f[0x1C:0x20]), binary.BigEndian.Uint32(f[0x20:]); app != "tap\x00" || ver != 0x00000001 {
			t.Errorf("%s: creator %q version %#08x, want tap\\0 0x00000001", name, app, ver)
		}
		if got, want := binary.BigEndian.Uint32(f[0x40:]), vhdtest.FooterChecksum(f); got != want {
			t.Errorf("%s: checksum %#x, want %#x", name, got, want)
		}
	}
	batEnd := l.TableOff + roundUp(4*int64(l.Entries), SectorSize)
	if bytes.Equal(l.File[batEnd:batEnd+8], batmapCookie[:]) {
		t.Error("a batmap follows the BAT; version 0.1 has none")
	}
	if n := bitMismatches(t, path, oldRuns, vhdtest.OldTapBit); n > 0 {
		t.Errorf("%d bits of the old order disagree with the sectors written", n)
	}
	if bitMismatches(t, path, oldRuns, vhdtest.SpecBit) == 0 {
		t.Error("the writes read the same in both orders: the tests tell nothing")
	}
}

func TestOldTapReads(t *testing.T) {
	for _, diff := range []bool{false, true} {
		t.Run(map[bool]string{false: "dynamic", true: "differencing"}[diff], func(t *testing.T) {
			path, model := newOldTap(t, t.TempDir(), diff)
			im, err := Open(path, OpenOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			if w := im.Warnings(); len(w) > 0 {
				t.Errorf("Open warned: %q", w)
			}
			mustEqualDisk(t, im, model)
			mustBeValid(t, path)
		})
	}
}

// mustBeValid checks path, its chain and its data against its bitmaps.
func mustBeValid(t *testing.T, path string) {
	t.Helper()
	problems, err := Check(path, CheckOptions{Parents: true, Bitmaps: true, Data: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("Check: %v", p)
	}
}

// Writes keep the old order, as blktap2 kept it.
func TestOldTapWritesKeepOrder(t *testing.T) {
	for _, diff := range []bool{false, true} {
		t.Run(map[bool]string{false: "dynamic", true: "differencing"}[diff], func(t *testing.T) {
			path, model := newOldTap(t, t.TempDir(), diff)
			more := []run{
				{6*oldBlock + 3*512, 2 * 512}, // a new block
				{oldBlock + 12*512, 512},      // an allocated one
				{3*oldBlock + 40*512, 5 * 512},
			}
			im, err := Open(path, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			writeRuns(t, im, model, 0xC0, more)
			mustClose(t, im)
			if n := bitMismatches(t, path, append(more, oldRuns...), vhdtest.OldTapBit); n > 0 {
				t.Errorf("%d bits of the old order disagree with the sectors written", n)
			}
			im, err = Open(path, OpenOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			if v := im.Footer().CreatorVersion; v != oldTapCreatorVersion {
				t.Errorf("creator version %#x after writing, want 0.1", v)
			}
			mustEqualDisk(t, im, model)
			mustBeValid(t, path)
		})
	}
}

// Check reads bitmaps in the image's order, so bits in the other order
// leave data under clear bits, and Data finds it.
func TestCheckFindsWrongBitOrder(t *testing.T) {
	tests := []struct {
		name    string
		version uint32
		reorder bool // put the bitmaps back in the specification's order
	}{
		{"tap 0.1 with the specification's order", oldTapCreatorVersion, true},
		{"tap 1.1 with the old order", tap11CreatorVersion, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path, _ := newOldTap(t, t.TempDir(), false)
			l := vhdtest.ReadLayout(t, path)
			for blk := range l.Entries {
				if bm := l.Bitmap(blk); bm != nil && tt.reorder {
					reverseBitOrder(bm)
					patch(t, path, int64(binary.BigEndian.Uint32(l.File[l.TableOff+4*int64(blk):]))*SectorSize, bm)
				}
			}
			editFooter(t, path, false, func(b []byte) { binary.BigEndian.PutUint32(b[0x20:], tt.version) })
			problems, err := Check(path, CheckOptions{Data: true})
			if err != nil {
				t.Fatal(err)
			}
			if len(problems) == 0 || !strings.Contains(problems[0].Msg, "has data where bitmap is clear") {
				t.Errorf("Check = %v, want data where bitmap is clear", problems)
			}
		})
	}
}

// tap 0.1 and 1.1 set the hidden byte outside the checksum, and blktap
// reads the flag of their dynamic disks from the copy at offset 0.
func TestTapFooterQuirks(t *testing.T) {
	tests := []struct {
		name       string
		version    uint32
		at         int64 // the footer whose hidden byte is set: 0 or -FooterSize
		wantHidden uint8
		wantIssue  string // what Check finds; the EOF footer's also warns on Open
	}{
		{"tap 0.1, copy", oldTapCreatorVersion, 0, 1, ""},
		{"tap 1.1, copy", tap11CreatorVersion, 0, 1, ""},
		{"tap 1.3, copy", TapCreatorVersion, 0, 0, "footer copy at 0x0: footer checksum mismatch"},
		{"tap 0.1, EOF footer", oldTapCreatorVersion, -FooterSize, 0, ""},
		{"tap 1.3, EOF footer", TapCreatorVersion, -FooterSize, 0, "footer checksum mismatch"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "a.vhd")
			newTestImage(t, path, "")
			editFooter(t, path, false, func(b []byte) { binary.BigEndian.PutUint32(b[0x20:], tt.version) })
			patch(t, path, tt.at+0x55, []byte{1}) // checksum untouched
			im, err := Open(path, OpenOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			if h, err := im.Hidden(); h != tt.wantHidden || err != nil {
				t.Errorf("Hidden() = %d, %v; want %d", h, err, tt.wantHidden)
			}
			if warned := len(im.Warnings()) > 0; warned != (tt.wantIssue != "" && tt.at != 0) {
				t.Errorf("Open warnings %q", im.Warnings())
			}
			problems, err := Check(path, CheckOptions{})
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantIssue == "" && len(problems) > 0:
				t.Errorf("Check = %v, want none", problems)
			case tt.wantIssue != "" && (len(problems) != 1 || !strings.Contains(problems[0].String(), tt.wantIssue)):
				t.Errorf("Check = %v, want %q", problems, tt.wantIssue)
			}
		})
	}
}
