package vhd

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/drivertest"
	"gotap.dev/libtap/drivers/fileio"
	"gotap.dev/libtap/ring"
	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

// TestEngines: on each engine (io_uring with the buffers registered or
// not, the syscall fallback), with O_DIRECT where the file system takes
// it and -D does not forbid it, or buffered, the chain reads what was
// written, the image locks hold, and QEMU reads the written image as
// the model says.
func TestEngines(t *testing.T) {
	drivertest.EachSetup(t, func(t *testing.T, set drivertest.Setup) {
		mem := ring.AlignedBuffer(1 << 20)
		opts := Options{NoDirect: set.NoDirect}
		if set.Registered {
			opts.Buffers = mem
		}
		checkChain(t, set.Dir, opts, mem, set.Syscalls)
		checkDynamic(t, set.Dir, opts, mem)
	})
}

// checkChain writes through a child over a parent holding data and
// reads the chain back, through the driver and through plain libvhd.
func checkChain(t *testing.T, dir string, opts Options, mem []byte, syscalls bool) {
	leaf := chainIn(t, dir)
	model := bytes.Repeat([]byte("base"), 8*mib/4)
	clear(model[mib:])
	d, err := Open(leaf, opts)
	if err != nil {
		t.Fatal(err)
	}
	if want := !opts.NoDirect && drivertest.TakesDirect(leaf); d.Caps().Direct != want {
		t.Errorf("Direct = %v; want %v", d.Caps().Direct, want)
	}
	drivertest.CheckEngine(t, d, syscalls)
	if eng := d.Caps().Engine; eng == fileio.EngineIOURing && opts.Buffers != nil && !d.fs.q.HasFixed() {
		t.Error("the buffers were not registered")
	}
	for _, path := range []string{leaf, filepath.Join(dir, "base.vhd")} {
		if _, err := Open(path, opts); disk.Errno(err) != syscall.EBUSY {
			t.Errorf("second writer of %s: %v; want EBUSY", filepath.Base(path), err)
		}
	}
	writeRandom(t, d, model, mem)
	readBack(t, d, model, mem)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	im, err := libvhd.Open(leaf, libvhd.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	got := make([]byte, len(model))
	if _, err := im.ReadAt(got, 0); err != nil || !bytes.Equal(got, model) {
		t.Errorf("libvhd reads the chain back unlike the model (%v)", err)
	}
}

// checkDynamic writes into a dynamic image QEMU made and has QEMU
// compare it with the model.
func checkDynamic(t *testing.T, dir string, opts Options, mem []byte) {
	vhdtest.RequireTool(t, "qemu-img")
	img, raw := filepath.Join(dir, "qemu.vhd"), filepath.Join(dir, "model.raw")
	vhdtest.Run(t, "qemu-img", "create", "-q", "-f", "vpc", "-o", "subformat=dynamic", img, "8M")
	d, err := Open(img, opts)
	if err != nil {
		t.Fatal(err)
	}
	model := make([]byte, d.Size())
	writeRandom(t, d, model, mem)
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(raw, model, 0o644); err != nil {
		t.Fatal(err)
	}
	vhdtest.Run(t, "qemu-img", "compare", "-f", "vpc", "-F", "raw", img, raw)
}

// chainIn makes base.vhd (8 MiB, "base" in its first MiB) and a child
// over it in dir; it returns the child's path.
func chainIn(t *testing.T, dir string) string {
	t.Helper()
	base, leaf := filepath.Join(dir, "base.vhd"), filepath.Join(dir, "leaf.vhd")
	im, err := libvhd.Create(base, libvhd.CreateOptions{Type: libvhd.Dynamic, Size: 8 * mib})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := im.WriteAt(bytes.Repeat([]byte("base"), mib/4), 0); err != nil {
		t.Fatal(err)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
	if im, err = libvhd.Create(leaf, libvhd.CreateOptions{Parent: base}); err != nil {
		t.Fatal(err)
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
	return leaf
}

// writeRandom writes random data at random places through d, into the
// model too: whole 4 KiB pages and vectors from the aligned memory, as
// the VBD sends them, and, off the aligned path, sectors and odd byte
// ranges from buffers that are not aligned at all.
func writeRandom(t *testing.T, d *Disk, model, mem []byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(1, 2))
	odd := make([]byte, 8193)
	size := int64(len(model))
	for i := range 300 {
		var bufs [][]byte
		var off int64
		switch i % 4 {
		case 0, 1: // pages, one or a vector of two
			n := 1 + rng.IntN(16)
			off = rng.Int64N(size/4096-int64(n)) * 4096
			b := mem[:n*4096]
			bufs = [][]byte{b}
			if n > 1 {
				bufs = [][]byte{b[:4096], b[4096:]}
			}
		case 2: // sectors, unaligned memory
			n := 1 + rng.IntN(15)
			off = rng.Int64N(size/512-int64(n)) * 512
			bufs = [][]byte{odd[1 : 1+n*512]}
		case 3: // any bytes
			n := 1 + rng.IntN(8000)
			off = rng.Int64N(size - int64(n))
			bufs = [][]byte{odd[1 : 1+n]}
		}
		at := off
		for _, b := range bufs {
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			copy(model[at:], b)
			at += int64(len(b))
		}
		if err := d.WriteV(bufs, off, i%10 == 0); err != nil {
			t.Fatalf("write %d at %d: %v", i, off, err)
		}
		if i%50 == 0 {
			if err := d.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// readBack reads the whole disk through d, 1 MiB at a time into the
// aligned memory, and some odd ranges into unaligned buffers.
func readBack(t *testing.T, d *Disk, model, mem []byte) {
	t.Helper()
	for off := 0; off < len(model); off += len(mem) {
		if err := d.ReadV([][]byte{mem}, int64(off)); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(mem, model[off:off+len(mem)]) {
			t.Fatalf("read at %d differs from the model", off)
		}
	}
	odd := make([]byte, 5001)[1:]
	for _, off := range []int64{0, 1, 511, mib - 7, 2*mib - 4096 + 3} {
		if err := d.ReadV([][]byte{odd}, off); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(odd, model[off:off+int64(len(odd))]) {
			t.Errorf("read of %d bytes at %d differs from the model", len(odd), off)
		}
	}
}

// TestBounce: with O_DIRECT, I/O that is not sector-aligned goes through
// a bounce buffer, and a write into the last, partial sector of a file
// leaves its size as a buffered write would.
func TestBounce(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	if !drivertest.TakesDirect(dir) {
		// takesDirect opens a directory read-only: probe a file instead.
		if err := os.WriteFile(path, make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
		if !drivertest.TakesDirect(path) {
			t.Skip("no O_DIRECT on", dir)
		}
	}
	for _, tc := range []struct {
		name     string
		size     int64 // of the file before
		off      int64
		n        int
		wantSize int64
	}{
		{"inside", 4096, 100, 700, 4096},
		{"over the partial end", 1000, 900, 50, 1000},
		{"past the partial end", 1000, 990, 100, 1090},
		{"a 511-byte tail", 1535, 1024, 511, 1535},
		{"appending", 1024, 1024, 3, 1027},
		{"whole sectors", 2048, 512, 1024, 2048},
		{"whole sectors, appended", 1024, 1024, 512, 1536},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := make([]byte, tc.size)
			for i := range want {
				want[i] = byte(i * 7)
			}
			if err := os.WriteFile(path, want, 0o644); err != nil {
				t.Fatal(err)
			}
			s := &fsys{direct: true}
			lf, err := s.OpenFile(path, os.O_RDWR, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer lf.Close()
			f := lf.(*file)
			if !f.direct {
				t.Fatal("not opened with O_DIRECT")
			}
			p := bytes.Repeat([]byte{0xEE}, tc.n+1)[1:]
			if n, err := f.WriteAt(p, tc.off); n != tc.n || err != nil {
				t.Fatalf("WriteAt = %d, %v", n, err)
			}
			if end := tc.off + int64(tc.n); end > int64(len(want)) {
				want = append(want, make([]byte, end-int64(len(want)))...)
			}
			copy(want[tc.off:], p)
			if got, _ := f.Size(); got != tc.wantSize {
				t.Errorf("size = %d; want %d", got, tc.wantSize)
			}
			got := make([]byte, len(want)+100)
			n, err := f.ReadAt(got[1:], 0)
			if n != len(want) || !errors.Is(err, io.EOF) || !bytes.Equal(got[1:1+n], want) {
				t.Errorf("ReadAt = %d, %v, the data differs: %v", n, err, !bytes.Equal(got[1:1+n], want))
			}
		})
	}
}

// TestStartV: a read the leaf's file holds in one piece starts on the
// io_uring and returns what was written, a vector too; reads of the
// parent's data, of zeros and writes go the scheduler's other way.
func TestStartV(t *testing.T) {
	mem := ring.AlignedBuffer(3 * 4096)
	d := open(t, newChain(t), Options{Buffers: mem})
	if d.fs.q == nil {
		t.Skip("no io_uring")
	}
	data := mem[:8192]
	for i := range data {
		data[i] = byte(i * 3)
	}
	if err := d.WriteV([][]byte{data}, 2*mib, false); err != nil {
		t.Fatal(err)
	}
	got := mem[8192:]
	clear(got)
	a, b := got[:1024], got[1024:4096]
	done := make(chan error, 1)
	if !d.StartV(false, [][]byte{a, b}, 2*mib+4096, false, false, func(err error) { done <- err }) {
		t.Fatal("StartV refused a read of the leaf's data")
	}
	if err := <-done; err != nil || !bytes.Equal(got, data[4096:]) {
		t.Errorf("StartV read %v, the data differs: %v", err, !bytes.Equal(got, data[4096:]))
	}
	for _, tc := range []struct {
		name  string
		write bool
		off   int64
	}{
		{"the parent's data", false, 0},
		{"zeros", false, 4 * mib},
		{"leaf data and zeros", false, 2*mib + 4096},
		{"a write", true, 2 * mib},
	} {
		n := 4096
		if tc.name == "leaf data and zeros" {
			n = 8192
		}
		if d.StartV(tc.write, [][]byte{mem[:n]}, tc.off, false, false, func(error) {}) {
			t.Errorf("StartV started %s", tc.name)
		}
	}
}

// TestBlockDevice: a VHD in a block device (LVHD: a volume holding one
// image, its footer after the data) takes new blocks up to the device's
// size on every engine, as libvhd's own file does: the driver's files
// are known for devices too.
func TestBlockDevice(t *testing.T) {
	for _, eng := range []struct {
		name     string
		syscalls bool
		noDirect bool
	}{
		{"io_uring", false, false},
		{"io_uring, -D", false, true},
		{"syscalls", true, false},
	} {
		t.Run(eng.name, func(t *testing.T) {
			if eng.syscalls {
				t.Setenv(fileio.EnvNoIOURing, "1")
			}
			backing := filepath.Join(t.TempDir(), "volume")
			if err := os.WriteFile(backing, nil, 0o644); err != nil {
				t.Fatal(err)
			}
			if err := os.Truncate(backing, 16*mib); err != nil {
				t.Fatal(err)
			}
			dev := vhdtest.LoopDevice(t, backing)
			im, err := libvhd.Create(dev, libvhd.CreateOptions{Type: libvhd.Dynamic, Size: 8 * mib})
			if err != nil {
				t.Fatal(err)
			}
			if err := im.Close(); err != nil {
				t.Fatal(err)
			}
			mem := ring.AlignedBuffer(1 << 20)
			d, err := Open(dev, Options{NoDirect: eng.noDirect, Buffers: mem})
			if err != nil {
				t.Fatal(err)
			}
			model := make([]byte, d.Size())
			writeRandom(t, d, model, mem) // allocates blocks past the image's end
			readBack(t, d, model, mem)
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}
			if problems, err := libvhd.Check(dev, libvhd.CheckOptions{}); err != nil || len(problems) > 0 {
				t.Errorf("check after the writes: %v %v", problems, err)
			}
		})
	}
}
