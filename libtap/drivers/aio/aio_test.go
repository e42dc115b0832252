package aio

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/drivertest"
	"gotap.dev/libtap/ring"
	"gotap.dev/libvhd/imagefile"
)

// TestDirectOrBuffered: O_DIRECT exactly where the file system takes it
// (probed here independently) and -D does not forbid it, said through
// Caps, and the same data path either way, through each engine: io_uring
// with the buffers registered or not, and the syscall fallback.
func TestDirectOrBuffered(t *testing.T) {
	drivertest.EachSetup(t, func(t *testing.T, set drivertest.Setup) {
		path := filepath.Join(set.Dir, "disk.raw")
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(path, 4<<20); err != nil {
			t.Fatal(err)
		}
		mem := ring.AlignedBuffer(24576)
		opts := Options{NoDirect: set.NoDirect}
		if set.Registered {
			opts.Buffers = mem
		}
		d, err := Open(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		if want := !set.NoDirect && drivertest.TakesDirect(path); d.Caps().Direct != want {
			t.Errorf("Direct = %v; want %v", d.Caps().Direct, want)
		}
		drivertest.CheckEngine(t, d, set.Syscalls)
		if set.Registered && d.q != nil && !d.q.HasFixed() {
			t.Error("the buffers were not registered")
		}
		checkDataPath(t, d, mem)
	})
}

// checkDataPath writes and reads through d with buffers carved from mem
// (24 KiB): vectors, single buffers, FUA, zeroing, the map, a flush.
func checkDataPath(t *testing.T, d *Disk, mem []byte) {
	t.Helper()
	a, b, got := mem[:4096], mem[4096:12288], mem[12288:24576]
	for i := range a {
		a[i] = 0xA1
	}
	for i := range b {
		b[i] = 0xB2
	}
	if err := d.WriteV([][]byte{a, b}, 1<<20, true); err != nil {
		t.Fatalf("WriteV: %v", err)
	}
	if err := d.ReadV([][]byte{got[:4096], got[4096:]}, 1<<20); err != nil {
		t.Fatalf("ReadV: %v", err)
	}
	if !bytes.Equal(got[:4096], a) || !bytes.Equal(got[4096:], b) {
		t.Fatal("vectored read differs from the vectored write")
	}
	if err := d.WriteV([][]byte{a}, 1<<20+8192, false); err != nil {
		t.Fatalf("WriteV: %v", err)
	}
	if err := d.ReadV([][]byte{got}, 1<<20); err != nil {
		t.Fatalf("ReadV: %v", err)
	}
	if !bytes.Equal(got[:4096], a) || !bytes.Equal(got[4096:8192], b[:4096]) || !bytes.Equal(got[8192:], a) {
		t.Fatal("read of one buffer differs from what was written")
	}
	ext, err := d.Extents(nil, 0, 4<<20)
	if err != nil {
		t.Fatal(err)
	}
	want := []disk.Extent{
		{Offset: 0, Length: 1 << 20, Hole: true},
		{Offset: 1 << 20, Length: 12288},
		{Offset: 1<<20 + 12288, Length: 3<<20 - 12288, Hole: true},
	}
	if !equalMapping(ext, want) {
		t.Errorf("Extents = %v; want data only where written, at file-system granularity: %v", ext, want)
	}
	if err := d.WriteZeroes(1<<20, 12288, false, true); err != nil {
		t.Fatalf("WriteZeroes: %v", err)
	}
	if err := d.ReadV([][]byte{got}, 1<<20); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, make([]byte, len(got))) {
		t.Error("range not zero after WriteZeroes")
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
}

// equalMapping compares where data lies, allowing the file system to
// round holes to its block size.
func equalMapping(got, want []disk.Extent) bool {
	dataAt := func(ext []disk.Extent, off int64) bool {
		for _, e := range ext {
			if off >= e.Offset && off < e.Offset+e.Length {
				return !e.Hole
			}
		}
		return false
	}
	for _, off := range []int64{0, 1<<20 - 8192, 1 << 20, 1<<20 + 8192, 2 << 20, 4<<20 - 1} {
		if dataAt(got, off) != dataAt(want, off) {
			return false
		}
	}
	return true
}

// A FIFO named as a raw disk is refused at once: opening it for reading
// would wait for a writer and hold up the tapdisk.
func TestFIFORefused(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		d, err := Open(fifo, Options{ReadOnly: true})
		if err == nil {
			d.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, imagefile.ErrType) {
			t.Errorf("Open(FIFO) = %v; want imagefile.ErrType", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Open(FIFO) blocked")
	}
}
