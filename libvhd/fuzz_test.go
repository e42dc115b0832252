package libvhd

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime/metrics"
	"strings"
	"testing"
	"time"
)

// Seeds come from this package's own writer: small images and the
// structures they are made of. Small matters twice: each iteration reads
// the whole disk, and Go's fuzzer minimizes every input that finds new
// coverage, in time quadratic in its length (up to -fuzzminimizetime,
// 60 s by default, per input). The seeds use the smallest blocks that
// still hold a full block, a partial one, a sub-sector write and a disk
// ending mid-block, and only two blocks, since each takes 4 KiB of file.

// seedImage is the bytes of an image made by Create, and the footer and
// header it was written with.
type seedImage struct {
	name   string
	file   []byte
	footer Footer
	header Header // zero for a fixed image
}

// seedImages creates a fixed image, a dynamic one holding data (full and
// partial blocks, a sub-sector write, a disk size that ends mid-block)
// and a differencing child of it. The dynamic one is named fuzzPath, so
// that the child's locators lead FuzzOpen back to the file under test;
// and a last seed is the child naming its own UUID as its parent's.
func seedImages(tb testing.TB) []seedImage {
	tb.Helper()
	dir := tb.TempDir()
	type write struct {
		off int64
		n   int
	}
	specs := []struct {
		name   string
		opts   CreateOptions
		writes []write
	}{
		{"fixed.vhd", CreateOptions{Type: Fixed, Size: 4 << 10}, []write{{0, 1024}, {2100, 100}}},
		{fuzzPath, CreateOptions{Type: Dynamic, Size: 5<<10 + 512, BlockSize: 2 << 10},
			[]write{{0, 2 << 10}, {4<<10 + 7, 300}, {5 << 10, 512}}},
		{"child.vhd", CreateOptions{Parent: filepath.Join(dir, fuzzPath), BlockSize: 2 << 10},
			[]write{{1 << 10, 512}, {1<<10 + 513, 10}}},
	}
	var out []seedImage
	for _, s := range specs {
		path := filepath.Join(dir, s.name)
		im, err := Create(path, s.opts)
		if err != nil {
			tb.Fatal(err)
		}
		for i, w := range s.writes {
			if _, err := im.WriteAt(bytes.Repeat([]byte{byte(i + 1)}, w.n), w.off); err != nil {
				tb.Fatal(err)
			}
		}
		seed := seedImage{name: s.name, footer: im.Footer()}
		seed.header, _ = im.Header()
		if err := im.Close(); err != nil {
			tb.Fatal(err)
		}
		if seed.file, err = os.ReadFile(path); err != nil {
			tb.Fatal(err)
		}
		out = append(out, seed)
	}
	self := out[len(out)-1]
	self.name, self.file = "self-parent.vhd", bytes.Clone(self.file)
	self.header.ParentUUID = self.footer.UUID
	self.header.put(self.file[self.footer.DataOffset:])
	return append(out, self)
}

func FuzzFooter(f *testing.F) {
	for _, s := range seedImages(f) {
		eof := s.file[len(s.file)-FooterSize:]
		f.Add(eof)
		f.Add(eof[:FooterSize-1]) // an old producer's 511-byte footer
		b, _ := s.footer.MarshalBinary()
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		ft, err := ParseFooter(b)
		if err != nil {
			return
		}
		_ = ft.Validate()
		got, err := ft.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		want := b[:min(len(b), FooterSize)]
		if !bytes.Equal(got[:len(want)], want) {
			t.Errorf("ParseFooter(%x).MarshalBinary() = %x; want the input back", want, got)
		}
	})
}

func FuzzHeader(f *testing.F) {
	for _, s := range seedImages(f) {
		if s.footer.Type == Fixed {
			continue
		}
		off := int(s.footer.DataOffset)
		f.Add(s.file[off:off+HeaderSize], s.footer.CurrentSize)
		b, _ := s.header.MarshalBinary()
		f.Add(b, uint64(MaxDiskSize))
	}
	f.Fuzz(func(t *testing.T, b []byte, diskSize uint64) {
		h, err := ParseHeader(b)
		if err != nil {
			return
		}
		if h.Validate(diskSize) == nil && uint64(h.MaxTableEntries)*uint64(h.BlockSize) < diskSize {
			t.Errorf("Validate(%d) accepted %d blocks of %d bytes", diskSize, h.MaxTableEntries, h.BlockSize)
		}
		_ = h.ParentNameString()
		got, err := h.MarshalBinary()
		if err != nil {
			t.Fatal(err)
		}
		if want := b[:HeaderSize]; !bytes.Equal(got, want) {
			t.Errorf("ParseHeader(%x).MarshalBinary() = %x; want the input back", want, got)
		}
	})
}

func FuzzLocator(f *testing.F) {
	for _, rel := range []string{"parent.vhd", "../base/parent.vhd", "dir/été.vhd"} {
		for _, l := range locatorPayloads(rel) {
			f.Add(l.code, l.data)
		}
	}
	f.Add(uint32(LocatorWi2r), []byte(`.\parent.vhd`))
	f.Add(uint32(LocatorWi2k), []byte(`C:\images\parent.vhd`))
	f.Add(uint32(LocatorMacX), []byte("file:///srv/parent.vhd\x00\x00"))
	f.Fuzz(func(t *testing.T, code uint32, data []byte) {
		p, relative, ok := decodeLocator(code, data)
		if !ok {
			return
		}
		if p == "" {
			t.Errorf("decodeLocator(%#x, %q) = \"\", ok", code, data)
		}
		if relative && strings.HasPrefix(p, "/") {
			t.Errorf("decodeLocator(%#x, %q) = %q, relative; want an absolute path not relative", code, data, p)
		}
	})
}

// Bounds of FuzzOpen's work per input.
const (
	fuzzChunk     = 64 << 10 // bytes per ReadAt
	fuzzWholeDisk = 1 << 20  // read every byte of disks up to this size
	fuzzAllocBase = 4 << 20  // Open may allocate 4× the file size plus this
)

// FuzzOpen opens, reads and maps any file as an image. Even from small
// seeds, a minimization outlasts thousands of iterations: fuzz it with a
// bounded one, e.g. -fuzztime 5m -fuzzminimizetime 1000x.
func FuzzOpen(f *testing.F) {
	for _, s := range seedImages(f) {
		f.Add(s.file)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkOpen(t, data)
		if fixed := fixChecksums(data); !bytes.Equal(fixed, data) {
			checkOpen(t, fixed)
		}
	})
}

// checkOpen opens data as an image, read-only, and reads and maps it. The
// parent chain is resolved in fuzzFS, which holds only data itself; if it
// cannot be, the image is opened alone.
func checkOpen(t *testing.T, data []byte) {
	var im *Image
	var err error
	for _, noParent := range []bool{false, true} {
		before := heapAllocated()
		// A small bitmap cache keeps iterations fast; its floor of eight
		// slots still holds hostile 64 KiB bitmaps.
		im, err = Open(fuzzPath, OpenOptions{ReadOnly: true, NoParent: noParent, BitmapCache: 4 << 10, FS: fuzzFS(data)})
		if alloc, limit := heapAllocated()-before, 4*uint64(len(data))+fuzzAllocBase; alloc > limit {
			t.Errorf("Open of a %d-byte file allocated %d bytes; want at most %d", len(data), alloc, limit)
		}
		if errors.Is(err, ErrChainTooDeep) {
			t.Errorf("Open of one file = %v; want a refused loop, not a deep chain", err)
		}
		if err == nil {
			break
		}
	}
	if err != nil {
		return
	}
	defer func() {
		if err := im.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	_ = im.Locators()
	_ = im.Warnings()
	for _, r := range fuzzRanges(im.Size()) {
		checkRange(t, im, r[0], r[1])
	}
}

// heapAllocated is the bytes allocated on the heap so far, read through
// runtime/metrics: unlike runtime.ReadMemStats it does not stop the
// world, which took more than half of each iteration's time.
func heapAllocated() uint64 {
	s := []metrics.Sample{{Name: "/gc/heap/allocs:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// fixChecksums returns a copy of data whose EOF footer, footer copy,
// dynamic header and batmap carry valid checksums, so that mutated fields
// get past the checksums to the checks behind them.
func fixChecksums(data []byte) []byte {
	b := bytes.Clone(data)
	n := uint64(len(b))
	if n < FooterSize {
		return b
	}
	be := binary.BigEndian
	fix := func(s []byte, field int) { be.PutUint32(s[field:], checksum(s, field)) }
	eof := b[n-FooterSize:]
	fix(eof, 0x40)
	fix(b[:FooterSize], 0x40)
	hdr := be.Uint64(eof[0x10:])
	if hdr > n || n-hdr < HeaderSize {
		return b
	}
	h := b[hdr : hdr+HeaderSize]
	fix(h, 0x024)
	bm := be.Uint64(h[0x010:]) + uint64(roundUp(4*int64(be.Uint32(h[0x01C:])), SectorSize))
	if bm > n || n-bm < batmapHeaderSize || !bytes.HasPrefix(b[bm:], batmapCookie[:]) {
		return b
	}
	mapOff, mapLen := be.Uint64(b[bm+0x08:]), uint64(be.Uint32(b[bm+0x10:]))*SectorSize
	if mapOff <= n && n-mapOff >= mapLen {
		be.PutUint32(b[bm+0x18:], batmapChecksum(b[mapOff:mapOff+mapLen]))
	}
	return b
}

// fuzzPath is the one file fuzzFS holds.
const fuzzPath = "fuzz.vhd"

// fuzzFS serves a fuzz input as a read-only file, sparing each iteration
// the file system.
type fuzzFS []byte

func (b fuzzFS) OpenFile(name string, flag int, _ fs.FileMode) (File, error) {
	if name != fuzzPath || flag != os.O_RDONLY {
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	}
	return fuzzFile{bytes.NewReader(b)}, nil
}

type fuzzFile struct{ *bytes.Reader }

func (fuzzFile) WriteAt([]byte, int64) (int, error) { return 0, fs.ErrPermission }
func (fuzzFile) Sync() error                        { return nil }
func (f fuzzFile) Size() (int64, error)             { return f.Reader.Size(), nil }
func (fuzzFile) ModTime() (time.Time, error)        { return time.Time{}, nil }
func (fuzzFile) Close() error                       { return nil }

// fuzzRanges is the whole disk in chunks if it is small, else a few
// chunks: the start, the middle and the end, including the last sector.
func fuzzRanges(size int64) [][2]int64 {
	var out [][2]int64
	if size <= fuzzWholeDisk {
		for off := int64(0); off < size; off += fuzzChunk {
			out = append(out, [2]int64{off, min(fuzzChunk, size-off)})
		}
		return out
	}
	for _, off := range []int64{0, size/2 - 1000, size - fuzzChunk - 3, size - SectorSize} {
		out = append(out, [2]int64{off, min(fuzzChunk, size-off)})
	}
	return out
}

// checkRange reads [off, off+n) and maps it: the extents must tile the
// range, and what no layer holds must read as zeros.
func checkRange(t *testing.T, im *Image, off, n int64) {
	buf := make([]byte, n)
	got, err := im.ReadAt(buf, off)
	readable := err == nil
	if !readable && im.Type() != Differencing {
		// A truncated file reads as zeros: only a missing parent may fail.
		t.Fatalf("ReadAt(%d bytes at %d) of a %v disk of %d bytes = %d, %v", n, off, im.Type(), im.Size(), got, err)
	}
	ext, err := im.AppendExtents(nil, off, n)
	if err != nil {
		t.Fatalf("AppendExtents(%d, %d): %v", off, n, err)
	}
	next := off
	for _, e := range ext {
		if e.Offset != next || e.Length <= 0 {
			t.Fatalf("AppendExtents(%d, %d) = %v: does not tile the range", off, n, ext)
		}
		next += e.Length
		if readable && e.Layer == Unallocated {
			if z := buf[e.Offset-off : next-off]; bytes.Count(z, []byte{0}) != len(z) {
				t.Fatalf("extent %v is unallocated but reads non-zero bytes", e)
			}
		}
	}
	if next != off+n {
		t.Fatalf("AppendExtents(%d, %d) = %v: ends at %d", off, n, ext, next)
	}
}
