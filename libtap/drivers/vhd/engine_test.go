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
	"time"

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
		{"a write into a new block", true, 4 * mib},
		{"a write across two blocks", true, 2*mib - 4096},
	} {
		n := 4096
		if tc.name == "leaf data and zeros" {
			n = 8192
		}
		if tc.name == "a write across two blocks" {
			n = 8192
		}
		if d.StartV(tc.write, [][]byte{mem[:n]}, tc.off, false, false, func(error) {}) {
			t.Errorf("StartV started %s", tc.name)
		}
	}
}

// TestStartVWrite: with O_DIRECT, a write into a block the leaf holds
// starts on the io_uring, sets the bitmap bits of its sectors before it
// is answered (through the page cache: the block is libvhd's, its bitmap
// alone in its page), and the image reads it back once closed; so does a
// write into a fixed image, which has no bitmaps.
func TestStartVWrite(t *testing.T) {
	fixed := func(t *testing.T) string {
		p := filepath.Join(t.TempDir(), "fixed.vhd")
		im, err := libvhd.Create(p, libvhd.CreateOptions{Type: libvhd.Fixed, Size: 8 * mib})
		if err != nil {
			t.Fatal(err)
		}
		if err := im.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	for _, tc := range []struct {
		name  string
		image func(*testing.T) string
	}{{"differencing", newChain}, {"fixed", fixed}} {
		t.Run(tc.name, func(t *testing.T) { startVWrite(t, tc.image(t)) })
	}
}

func startVWrite(t *testing.T, path string) {
	mem := ring.AlignedBuffer(3 * 4096)
	d, err := Open(path, Options{Buffers: mem})
	if err != nil {
		t.Fatal(err)
	}
	if d.fs.q == nil || !d.fs.isDirect() {
		d.Close()
		t.Skip("no io_uring, or no O_DIRECT here")
	}
	first := mem[:4096]
	for i := range first {
		first[i] = byte(i)
	}
	if err := d.WriteV([][]byte{first}, 2*mib, false); err != nil { // allocates
		t.Fatal(err)
	}
	data := mem[4096:]
	for i := range data {
		data[i] = byte(i * 7)
	}
	done := make(chan error, 1)
	if !d.StartV(true, [][]byte{data[:1024], data[1024:]}, 2*mib+4096, false, false, func(err error) { done <- err }) {
		t.Fatal("StartV refused a write into the leaf's block")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	got := make([]byte, 4096+len(data))
	if _, err := im.ReadAt(got, 2*mib); err != nil || !bytes.Equal(got[:4096], first) || !bytes.Equal(got[4096:], data) {
		t.Errorf("read back %v; the data differs (the bits unset: zeros)", err)
	}
}

// TestStartVWriteBesideLockedIO: writes StartV started complete while
// another goroutine holds the image's lock waiting for I/O of its own
// (unaligned writes: a read-modify-write under the lock), which the
// goroutine reaping completions must serve: it never waits for that
// lock, and every write reads back.
func TestStartVWriteBesideLockedIO(t *testing.T) {
	mem := ring.AlignedBuffer(4096)
	d := open(t, newChain(t), Options{})
	if d.fs.q == nil || !d.fs.isDirect() {
		t.Skip("no io_uring, or no O_DIRECT here")
	}
	if err := d.WriteV([][]byte{mem}, 2*mib, false); err != nil { // allocates
		t.Fatal(err)
	}
	const rounds = 300
	stop := time.After(60 * time.Second)
	locked := make(chan error, 1)
	go func() {
		odd := make([]byte, 100)
		for i := range rounds {
			if err := d.WriteV([][]byte{odd}, 2*mib+int64(i%100)*4096+1, false); err != nil {
				locked <- err
				return
			}
		}
		locked <- nil
	}()
	done := make(chan error, 1)
	started := 0
	for i := range rounds {
		if !d.StartV(true, [][]byte{mem}, 2*mib+int64(i%100)*4096, false, false, func(err error) { done <- err }) {
			if err := d.WriteV([][]byte{mem}, 2*mib+int64(i%100)*4096, false); err != nil {
				t.Fatal(err)
			}
			continue
		}
		started++
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-stop:
			t.Fatalf("write %d never completed: the reaper waits for the image's lock", i)
		}
	}
	if err := <-locked; err != nil {
		t.Fatal(err)
	}
	if started == 0 {
		t.Error("StartV started no write")
	}
}
