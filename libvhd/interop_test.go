package libvhd

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
	"gotap.dev/libvhd/vhdtest"
)

// Interop: outside tools judge what libvhd writes, and libvhd reads what
// QEMU writes. QEMU (qemu-img compare) judges dynamic images only: it
// opens a differencing VHD as a standalone dynamic disk. libvhdi
// (vhdimount) judges chains, but only those written in whole 4 KiB units
// (see VHD-FACTS.md: it misreads bitmap bytes that are neither 0x00 nor
// 0xFF).

// writeModel stores the model disk as a raw file for the tools to read.
func writeModel(t *testing.T, model []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "model.raw")
	if err := os.WriteFile(p, model, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// qemuCompare fails the test unless QEMU reads img as the raw model.
func qemuCompare(t *testing.T, img, model string) {
	t.Helper()
	vhdtest.Run(t, "qemu-img", "compare", "-f", "vpc", "-F", "raw", img, model)
}

func mustClose(t *testing.T, im *Image) {
	t.Helper()
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestQEMUReadsDynamicWrites(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-img")
	tests := []struct {
		name      string
		size      int64
		align     int
		blockSize uint32
	}{
		// 512-byte units, up to 3 MiB long: many writes start and end
		// mid-block and cross 2 MiB block boundaries.
		{"sectors", 20 << 20, SectorSize, 0},
		{"4KiB units, partial last block", 33<<20 + 4<<10, 4 << 10, 0},
		{"sectors, 512KiB blocks (Azure)", 9 << 20, SectorSize, 512 << 10},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // bound by fdatasync latency, not CPU
			img := filepath.Join(t.TempDir(), "dyn.vhd")
			im, err := Create(img, CreateOptions{Type: Dynamic, Size: tt.size, BlockSize: tt.blockSize})
			if err != nil {
				t.Fatal(err)
			}
			model := make([]byte, tt.size)
			randomWrites(t, rand.New(rand.NewPCG(uint64(i), 7)), im, model, 40, tt.align, 3<<20)
			mustClose(t, im)
			qemuCompare(t, img, writeModel(t, model))
		})
	}
}

// TestChainReadsModel writes into every layer of a four-deep chain and
// judges the top with libvhd and, for 4 KiB units, with vhdimount.
func TestChainReadsModel(t *testing.T) {
	tests := []struct {
		name      string
		align     int
		vhdimount bool
	}{
		{"sectors", SectorSize, false},
		{"4KiB units", 4 << 10, true},
	}
	const size, depth = 20 << 20, 4
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // bound by fdatasync latency, not CPU
			if tt.vhdimount {
				vhdtest.RequireTool(t, "vhdimount")
			}
			dir := t.TempDir()
			rng := rand.New(rand.NewPCG(uint64(i), 11))
			model := make([]byte, size)
			path := filepath.Join(dir, "base.vhd")
			im, err := Create(path, CreateOptions{Type: Dynamic, Size: size})
			for layer := 1; ; layer++ {
				if err != nil {
					t.Fatal(err)
				}
				randomWrites(t, rng, im, model, 30, tt.align, 3<<20)
				mustClose(t, im)
				if layer == depth {
					break
				}
				parent := path
				path = filepath.Join(dir, fmt.Sprintf("snap%d.vhd", layer))
				im, err = Create(path, CreateOptions{Parent: parent})
			}
			top, err := Open(path, OpenOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer top.Close()
			if got := top.Depth(); got != depth {
				t.Fatalf("Depth() = %d; want %d", got, depth)
			}
			mustEqualDisk(t, top, model)
			if tt.vhdimount {
				got := vhdtest.VhdimountTop(t, path, depth)
				vhdtest.Run(t, "cmp", got, writeModel(t, model))
			}
		})
	}
}

// TestQEMUMadeImages reads images QEMU created and wrote, then writes into
// them for QEMU to read back.
//
// What QEMU 7.2 does here: `qemu-img create -f vpc` (creator "qemu")
// rounds the size up to a C×H×S product and stores that product as the
// current size too, so both readers agree on 4295467008 bytes for 4G and
// 34607104 for 33M; with force_size=on (creator "qem2") the size is kept
// exactly, with geometry 65535/16/255 for 4G. Sizes are still compared
// as "first min(sizes) bytes equal, the rest zeros", which is what a
// reader that uses C×H×S where the footer says otherwise would need.
func TestQEMUMadeImages(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-img")
	tests := []struct {
		name string
		opts string // qemu-img create -o
		size string
	}{
		{"default 4G", "", "4G"},
		{"force_size 4G", "force_size=on", "4G"},
		{"dynamic 33M", "subformat=dynamic", "33M"},
		{"fixed 33M", "subformat=fixed", "33M"},
		{"fixed force_size 33M", "subformat=fixed,force_size=on", "33M"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // bound by fdatasync latency, not CPU
			dir := t.TempDir()
			img := filepath.Join(dir, "qemu.vhd")
			args := []string{"create", "-q", "-f", "vpc"}
			if tt.opts != "" {
				args = append(args, "-o", tt.opts)
			}
			vhdtest.Run(t, "qemu-img", append(args, img, tt.size)...)
			// The second write starts at an odd sector and crosses the
			// 2 MiB block boundary; the third ends at 33 MiB, the end of
			// the smallest disk here.
			vhdtest.Run(t, "qemu-io", "-f", "vpc",
				"-c", "write -P 0x5a 1M 3M",
				"-c", "write -P 0xc3 2096640 2560",
				"-c", "write -P 0x7e 33791k 1k", img)

			raw := qemuConvert(t, img)
			im, err := Open(img, OpenOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("libvhd size %d, QEMU size %d", im.Size(), fileSize(t, raw))
			rawFile, err := os.Open(raw)
			if err != nil {
				t.Fatal(err)
			}
			defer rawFile.Close()
			sameDisk(t, diskView{"libvhd " + img, im, im.Size()}, diskView{"qemu-img convert", sparseFile{rawFile}, fileSize(t, raw)})

			// Now libvhd writes, within the first 40 MiB, and QEMU judges.
			window := make([]byte, 40<<20)
			if _, err := rawFile.ReadAt(window, 0); err != nil && err != io.EOF {
				t.Fatal(err)
			}
			window = window[:min(int64(len(window)), im.Size(), fileSize(t, raw))]
			randomWrites(t, rand.New(rand.NewPCG(uint64(i), 13)), im, window, 40, SectorSize, 3<<20)
			mustClose(t, im)
			overwriteHead(t, raw, window)
			qemuCompare(t, img, raw)
		})
	}
}

// qemuConvert returns the disk as QEMU reads it, as a raw (sparse) file.
func qemuConvert(t *testing.T, img string) string {
	t.Helper()
	raw := filepath.Join(t.TempDir(), strings.TrimSuffix(filepath.Base(img), ".vhd")+".raw")
	vhdtest.Run(t, "qemu-img", "convert", "-f", "vpc", "-O", "raw", img, raw)
	return raw
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func overwriteHead(t *testing.T, path string, head []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteAt(head, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
}

// sparseFile reads holes without touching the file: reading gigabytes of
// holes through the kernel takes seconds, seeking past them takes none.
type sparseFile struct{ *os.File }

func (f sparseFile) ReadAt(p []byte, off int64) (int, error) {
	data, err := f.Seek(off, unix.SEEK_DATA)
	if errors.Is(err, unix.ENXIO) || err == nil && data >= off+int64(len(p)) {
		clear(p)
		return len(p), nil
	}
	return f.File.ReadAt(p, off)
}

// diskView is a virtual disk's contents as some reader sees them.
type diskView struct {
	name string
	r    io.ReaderAt
	size int64
}

// sameDisk compares two disks in chunks, the shorter read as if padded
// with zeros: readers disagree on the size of some images (C×H×S or the
// footer's current size), never on the contents.
func sameDisk(t *testing.T, a, b diskView) {
	t.Helper()
	const chunk = 4 << 20
	ba, bb := make([]byte, chunk), make([]byte, chunk)
	for off := int64(0); off < max(a.size, b.size); off += chunk {
		readPadded(t, a, ba, off)
		readPadded(t, b, bb, off)
		if !bytes.Equal(ba, bb) {
			i := int64(firstDiff(ba, bb))
			t.Fatalf("byte %d: %s reads %#x, %s reads %#x", off+i, a.name, ba[i], b.name, bb[i])
		}
	}
}

// readPadded fills p from d at off, with zeros past d's end.
func readPadded(t *testing.T, d diskView, p []byte, off int64) {
	t.Helper()
	n := max(min(int64(len(p)), d.size-off), 0)
	if n > 0 {
		if _, err := d.r.ReadAt(p[:n], off); err != nil && err != io.EOF {
			t.Fatalf("%s: ReadAt(%d, %d): %v", d.name, off, n, err)
		}
	}
	clear(p[n:])
}

func firstDiff(a, b []byte) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
