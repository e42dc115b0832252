package libvhd

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotap.dev/libvhd/vhdtest"
)

// Layout of the 20 MiB test images made by newTestImage (blktap layout,
// 10 entries): header 0x200, BAT 0x600, batmap header 0x800, map 0xA00.
const (
	testSize       = 20 << 20
	testBatmapOff  = 0x800
	testBatmapMap  = 0xA00
	testLocatorOff = 0xC00 // first locator of a differencing image
)

// newTestImage creates a dynamic (or, with parent, differencing) image
// with block 0 written whole (full in the batmap) and 4 KiB of block 3.
func newTestImage(t *testing.T, path, parent string) {
	t.Helper()
	im, err := Create(path, CreateOptions{Type: Dynamic, Size: testSize, Parent: parent})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := im.WriteAt(bytes.Repeat([]byte{0xAB}, 2<<20), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := im.WriteAt(bytes.Repeat([]byte{0xCD}, 4096), 3*(2<<20)+8192); err != nil {
		t.Fatal(err)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
}

// openAt opens path and resolves off, which counts from the end of the
// file when negative.
func openAt(t *testing.T, path string, flag int, off int64) (*os.File, int64) {
	t.Helper()
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		t.Fatal(err)
	}
	if off < 0 {
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		off += st.Size()
	}
	return f, off
}

// patch overwrites bytes of a file.
func patch(t *testing.T, path string, off int64, b []byte) {
	t.Helper()
	f, off := openAt(t, path, os.O_RDWR, off)
	defer f.Close()
	if _, err := f.WriteAt(b, off); err != nil {
		t.Fatal(err)
	}
}

func readAt(t *testing.T, path string, off int64, n int) []byte {
	t.Helper()
	f, off := openAt(t, path, os.O_RDONLY, off)
	defer f.Close()
	b := make([]byte, n)
	if _, err := f.ReadAt(b, off); err != nil {
		t.Fatal(err)
	}
	return b
}

// editFooter changes both footer copies (or, with copyOnly, the one at 0)
// and re-checksums them, so only the field edited is wrong.
func editFooter(t *testing.T, path string, copyOnly bool, edit func(b []byte)) {
	t.Helper()
	offs := []int64{0, -FooterSize}
	if copyOnly {
		offs = offs[:1]
	}
	for _, off := range offs {
		b := readAt(t, path, off, FooterSize)
		edit(b)
		binary.BigEndian.PutUint32(b[0x40:], checksum(b, 0x40))
		patch(t, path, off, b)
	}
}

// editHeader changes the dynamic header at 0x200 and re-checksums it.
func editHeader(t *testing.T, path string, edit func(b []byte)) {
	t.Helper()
	b := readAt(t, path, FooterSize, HeaderSize)
	edit(b)
	binary.BigEndian.PutUint32(b[0x24:], checksum(b, 0x24))
	patch(t, path, FooterSize, b)
}

// editBatmap changes the batmap header or map and fixes its checksum.
func editBatmap(t *testing.T, path string, edit func(hdr, m []byte)) {
	t.Helper()
	hdr := readAt(t, path, testBatmapOff, batmapHeaderSize)
	m := readAt(t, path, testBatmapMap, SectorSize)
	edit(hdr, m)
	binary.BigEndian.PutUint32(hdr[0x18:], batmapChecksum(m))
	patch(t, path, testBatmapMap, m)
	patch(t, path, testBatmapOff, hdr)
}

func be32(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }

func TestCheckFindsCorruption(t *testing.T) {
	future := Timestamp(time.Now().Add(time.Hour))
	tests := []struct {
		name    string
		child   bool // corrupt a differencing child of a valid parent
		opts    CheckOptions
		corrupt func(t *testing.T, path string)
		want    string
	}{
		{"bad EOF footer cookie", false, CheckOptions{}, func(t *testing.T, p string) { patch(t, p, -FooterSize, []byte("conectiy")) }, "bad footer cookie"},
		{"bad EOF footer checksum", false, CheckOptions{}, func(t *testing.T, p string) { patch(t, p, -FooterSize+0x18, []byte{1, 2}) }, "footer checksum mismatch"},
		{"no footer at all", false, CheckOptions{}, func(t *testing.T, p string) {
			patch(t, p, 0, []byte("garbage!"))
			patch(t, p, -FooterSize, []byte("garbage!"))
		}, "no usable copy"},
		{"features without the reserved bit", false, CheckOptions{}, func(t *testing.T, p string) { editFooter(t, p, false, func(b []byte) { b[0x0B] = 0 }) }, "lack the reserved bit"},
		{"unknown feature bits", false, CheckOptions{}, func(t *testing.T, p string) { editFooter(t, p, false, func(b []byte) { b[0x0B] = 0x12 }) }, "unknown feature bits"},
		{"footer version", false, CheckOptions{}, func(t *testing.T, p string) { editFooter(t, p, false, func(b []byte) { b[0x0D] = 2 }) }, "version 0x00020000"},
		{"data offset past the file", false, CheckOptions{}, func(t *testing.T, p string) {
			editFooter(t, p, false, func(b []byte) { copy(b[0x10:], binary.BigEndian.AppendUint64(nil, 1<<40)) })
		}, "data offset"},
		{"timestamp in the future", false, CheckOptions{}, func(t *testing.T, p string) { editFooter(t, p, false, func(b []byte) { copy(b[0x18:], be32(future)) }) }, "in the future"},
		{"geometry larger than the disk", false, CheckOptions{}, func(t *testing.T, p string) {
			editFooter(t, p, false, func(b []byte) { copy(b[0x38:], []byte{0xFD, 0xE8, 16, 63}) })
		}, "geometry 65000/16/63"},
		{"unknown disk type", false, CheckOptions{}, func(t *testing.T, p string) { editFooter(t, p, false, func(b []byte) { b[0x3F] = 7 }) }, "disk type 7"},
		{"saved state not 0 or 1", false, CheckOptions{}, func(t *testing.T, p string) { editFooter(t, p, false, func(b []byte) { b[0x54] = 2 }) }, "saved state 2"},
		{"hidden not 0 or 1", false, CheckOptions{}, func(t *testing.T, p string) { editFooter(t, p, false, func(b []byte) { b[0x55] = 3 }) }, "hidden 3"},
		{"reserved byte set", false, CheckOptions{}, func(t *testing.T, p string) { editFooter(t, p, false, func(b []byte) { b[0x100] = 1 }) }, "reserved byte at +0x100"},
		{"null UUID", false, CheckOptions{}, func(t *testing.T, p string) { editFooter(t, p, false, func(b []byte) { clear(b[0x44:0x54]) }) }, "null unique id"},
		{"footer copy differs", false, CheckOptions{}, func(t *testing.T, p string) { editFooter(t, p, true, func(b []byte) { b[0x55] = 1 }) }, "differs from the EOF footer"},
		{"footer copy damaged", false, CheckOptions{}, func(t *testing.T, p string) { patch(t, p, 0x18, []byte{9}) }, "footer copy at 0x0: footer checksum mismatch"},
		{"header cookie", false, CheckOptions{}, func(t *testing.T, p string) { editHeader(t, p, func(b []byte) { copy(b, "cxsparsf") }) }, "bad dynamic header cookie"},
		{"header checksum", false, CheckOptions{}, func(t *testing.T, p string) { patch(t, p, FooterSize+0x300, []byte{1}) }, "dynamic header checksum mismatch"},
		{"header version", false, CheckOptions{}, func(t *testing.T, p string) { editHeader(t, p, func(b []byte) { b[0x19] = 2 }) }, "version 0x00020000"},
		{"next offset not all ones", false, CheckOptions{}, func(t *testing.T, p string) { editHeader(t, p, func(b []byte) { b[0x08] = 0 }) }, "next offset"},
		{"block size not a power of two", false, CheckOptions{}, func(t *testing.T, p string) { editHeader(t, p, func(b []byte) { copy(b[0x20:], be32(3<<20)) }) }, "block size 3145728"},
		{"table too small for the disk", false, CheckOptions{}, func(t *testing.T, p string) { editHeader(t, p, func(b []byte) { copy(b[0x1C:], be32(4)) }) }, "max table entries 4"},
		{"parent UUID on a dynamic disk", false, CheckOptions{}, func(t *testing.T, p string) { editHeader(t, p, func(b []byte) { b[0x28] = 1 }) }, "parent UUID"},
		{"parent locator on a dynamic disk", false, CheckOptions{}, func(t *testing.T, p string) { editHeader(t, p, func(b []byte) { copy(b[0x240:], be32(LocatorMacX)) }) }, "parent locator MacX on a dynamic disk"},
		{"block over the dynamic header", false, CheckOptions{}, func(t *testing.T, p string) { patch(t, p, 0x600+4, be32(1)) }, "overlaps the dynamic header"},
		{"block over the BAT", false, CheckOptions{}, func(t *testing.T, p string) { patch(t, p, 0x600+4, be32(3)) }, "overlaps the BAT"},
		{"block over another block", false, CheckOptions{}, func(t *testing.T, p string) {
			patch(t, p, 0x600+4, readAt(t, p, 0x600, 4))
		}, "overlaps block"},
		{"block past the footer", false, CheckOptions{}, func(t *testing.T, p string) {
			st, _ := os.Stat(p)
			patch(t, p, 0x600+4, be32(uint32(st.Size()/SectorSize-1)))
		}, "runs past the EOF footer"},
		{"batmap missing", false, CheckOptions{}, func(t *testing.T, p string) { patch(t, p, testBatmapOff, []byte("xxxxxxxx")) }, "want tdbatmap"},
		{"batmap version", false, CheckOptions{}, func(t *testing.T, p string) { editBatmap(t, p, func(h, _ []byte) { h[0x15] = 3 }) }, "version 0x00030002"},
		{"batmap checksum", false, CheckOptions{}, func(t *testing.T, p string) { patch(t, p, testBatmapMap, []byte{0xC0}) }, "map sums to"},
		{"full bit on an unallocated block", false, CheckOptions{}, func(t *testing.T, p string) { editBatmap(t, p, func(_, m []byte) { m[0] |= 0x04 }) }, "block 5 is marked full but is not allocated"},
		{"full bit on a partly written block", false, CheckOptions{Bitmaps: true}, func(t *testing.T, p string) { editBatmap(t, p, func(_, m []byte) { m[0] |= 0x10 }) }, "block 3 is marked full but its bitmap is not"},
		{"locator data outside the file", true, CheckOptions{}, func(t *testing.T, p string) {
			editHeader(t, p, func(b []byte) { copy(b[0x240+16:], binary.BigEndian.AppendUint64(nil, 1<<30)) })
		}, "lies outside the file"},
		{"duplicate locator code", true, CheckOptions{}, func(t *testing.T, p string) {
			editHeader(t, p, func(b []byte) { copy(b[0x240+24:], be32(LocatorMacX)) })
		}, "repeats locator[0]"},
		{"unknown locator code", true, CheckOptions{}, func(t *testing.T, p string) { editHeader(t, p, func(b []byte) { copy(b[0x240:], be32(0x12345678)) }) }, "unknown platform code"},
		{"locator naming another image", true, CheckOptions{}, func(t *testing.T, p string) {
			other := filepath.Join(filepath.Dir(p), "other.vhd")
			newTestImage(t, other, "")
			patch(t, p, testLocatorOff, []byte("file://./other.vhd"))
			editHeader(t, p, func(b []byte) { copy(b[0x240+8:], be32(18)) })
		}, "parent UUID mismatch"},
		{"parent missing", true, CheckOptions{}, func(t *testing.T, p string) { os.Rename(filepath.Join(filepath.Dir(p), "parent.vhd"), p+".gone") }, "parent not found"},
		{"broken parent with -p", true, CheckOptions{Parents: true}, func(t *testing.T, p string) {
			editFooter(t, filepath.Join(filepath.Dir(p), "parent.vhd"), false, func(b []byte) { b[0x55] = 9 })
		}, "parent.vhd: footer at"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "disk.vhd")
			if tt.child {
				newTestImage(t, filepath.Join(dir, "parent.vhd"), "")
				newTestImage(t, path, filepath.Join(dir, "parent.vhd"))
			} else {
				newTestImage(t, path, "")
			}
			tt.corrupt(t, path)
			problems, err := Check(path, tt.opts)
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			var all []string
			for _, p := range problems {
				all = append(all, p.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), tt.want) {
				t.Errorf("Check(%s) = %q; want a problem containing %q", tt.name, all, tt.want)
			}
		})
	}
}

func TestCheckValid(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "raw.img")
	if err := os.WriteFile(raw, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	newTestImage(t, filepath.Join(dir, "base.vhd"), "")
	newTestImage(t, filepath.Join(dir, "mid.vhd"), filepath.Join(dir, "base.vhd"))
	newTestImage(t, filepath.Join(dir, "leaf.vhd"), filepath.Join(dir, "mid.vhd"))
	for _, c := range []struct {
		name string
		opts CreateOptions
	}{
		{"fixed.vhd", CreateOptions{Type: Fixed, Size: 3 << 20}},
		{"grow.vhd", CreateOptions{Type: Dynamic, Size: 3 << 20, MaxSize: 1 << 30}},
		{"onraw.vhd", CreateOptions{Parent: raw, ParentRaw: true}},
	} {
		im, err := Create(filepath.Join(dir, c.name), c.opts)
		if err != nil {
			t.Fatal(err)
		}
		im.Close()
	}
	for _, name := range []string{"base.vhd", "leaf.vhd", "fixed.vhd", "grow.vhd", "onraw.vhd"} {
		problems, err := Check(filepath.Join(dir, name), CheckOptions{Parents: true, Bitmaps: true})
		if err != nil || len(problems) > 0 {
			t.Errorf("Check(%s) = %v, %v; want no problems", name, problems, err)
		}
	}
}

func TestCheckIgnoreMissingFooter(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk.vhd")
	newTestImage(t, path, "")
	patch(t, path, -FooterSize, []byte("conectiy"))
	if problems, _ := Check(path, CheckOptions{}); len(problems) != 1 {
		t.Errorf("Check = %v; want the damaged EOF footer only", problems)
	}
	if problems, err := Check(path, CheckOptions{IgnoreMissingFooter: true}); err != nil || len(problems) > 0 {
		t.Errorf("Check(IgnoreMissingFooter) = %v, %v; want none", problems, err)
	}
}

// Images from other producers that Open accepts must check valid; the
// fuzzed one Open refuses must not.
func TestCheckSamples(t *testing.T) {
	tests := []struct {
		sample string
		want   string // "" for valid
	}{
		{"qemu-iotests/hyperv2012r2-dynamic.vhd.bz2", ""},
		{"qemu-iotests/virtualpc-dynamic.vhd.bz2", ""},
		{"qemu-iotests/d2v-zerofilled.vhd.bz2", ""},
		{"qemu-iotests/afl5.img.bz2", "does not leave room for the dynamic header"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.sample), func(t *testing.T) {
			problems, err := Check(vhdtest.Sample(t, tt.sample), CheckOptions{Bitmaps: true})
			if err != nil {
				t.Fatal(err)
			}
			got := ""
			for _, p := range problems {
				got += p.String() + "\n"
			}
			if (tt.want == "") != (got == "") || !strings.Contains(got, tt.want) {
				t.Errorf("Check = %q; want %q", got, tt.want)
			}
		})
	}
}
