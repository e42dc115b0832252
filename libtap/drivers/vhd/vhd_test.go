package vhd

import (
	"bytes"
	"errors"
	"path/filepath"
	"runtime"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/disk"
)

const mib = 1 << 20

// newChain makes base.vhd (8 MiB, "base" in its first MiB) and a child
// over it; it returns the child's path.
func newChain(t *testing.T) string { return chainIn(t, t.TempDir()) }

func open(t *testing.T, path string, opts Options) *Disk {
	t.Helper()
	d, err := Open(path, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

// The driver's whole table over a chain: vectored I/O reaching through
// to the parent, zeroing, the allocation map.
func TestDriver(t *testing.T) {
	d := open(t, newChain(t), Options{})
	if d.Size() != 8*mib {
		t.Fatalf("Size = %d", d.Size())
	}
	if c := d.Caps(); c.ReadOnly || c.FUA != disk.Emulated || c.Zero != disk.Native || c.FastZero != disk.Native || c.Trim != disk.None {
		t.Errorf("Caps = %+v", c)
	}
	a, b := bytes.Repeat([]byte{1}, 4096), bytes.Repeat([]byte{2}, 4096)
	if err := d.WriteV([][]byte{a, b}, 2*mib, true); err != nil {
		t.Fatal(err)
	}
	got := [][]byte{make([]byte, 4096), make([]byte, 4096), make([]byte, 8192)}
	if err := d.ReadV(got, 2*mib-8192); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[0], make([]byte, 4096)) || !bytes.Equal(got[1], make([]byte, 4096)) || !bytes.Equal(got[2], append(a, b...)) {
		t.Error("ReadV does not return what WriteV wrote, zeros around it")
	}
	parent := make([]byte, 8)
	if err := d.ReadV([][]byte{parent}, 0); err != nil || string(parent) != "basebase" {
		t.Errorf("ReadV through to the parent = %q, %v", parent, err)
	}
	// Zeroing: free where no layer holds data, refused by fastZero where
	// one does, written otherwise.
	if err := d.WriteZeroes(4*mib, mib, false, true); err != nil {
		t.Errorf("fast zero of an unallocated range: %v", err)
	}
	if err := d.WriteZeroes(0, 4096, false, true); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Errorf("fast zero over the parent's data = %v; want EOPNOTSUPP", err)
	}
	if err := d.WriteZeroes(0, 4096, false, false); err != nil {
		t.Fatal(err)
	}
	zero := make([]byte, 4096)
	if err := d.ReadV([][]byte{zero}, 0); err != nil || !bytes.Equal(zero, make([]byte, 4096)) {
		t.Errorf("after WriteZeroes the range reads %q…, %v", zero[:8], err)
	}
	ext, err := d.Extents(nil, 0, 8*mib)
	if err != nil {
		t.Fatal(err)
	}
	want := []disk.Extent{
		{Offset: 0, Length: mib},
		{Offset: mib, Length: mib, Hole: true},
		{Offset: 2 * mib, Length: 8192},
		{Offset: 2*mib + 8192, Length: 6*mib - 8192, Hole: true},
	}
	if len(ext) != len(want) {
		t.Fatalf("Extents = %+v; want %+v", ext, want)
	}
	for i := range want {
		if ext[i] != want[i] {
			t.Errorf("extent %d = %+v; want %+v", i, ext[i], want[i])
		}
	}
	if err := d.Trim(0, 4096); err != nil {
		t.Errorf("Trim (advisory) = %v", err)
	}
}

// TestReadOnly: the VBD refuses writes to a read-only chain; below it,
// libvhd still refuses to write an image opened read-only.
func TestReadOnly(t *testing.T) {
	d := open(t, newChain(t), Options{ReadOnly: true})
	if !d.Caps().ReadOnly {
		t.Error("Caps().ReadOnly = false")
	}
	if err := d.WriteV([][]byte{make([]byte, 512)}, 0, false); !errors.Is(err, disk.ErrReadOnly) {
		t.Errorf("WriteV on a read-only image = %v; want EROFS", err)
	}
}

// A second writer, and a writer of the parent, are refused with EBUSY
// (libvhd's image locks, through the driver's errno).
func TestLocked(t *testing.T) {
	leaf := newChain(t)
	open(t, leaf, Options{})
	for _, path := range []string{leaf, filepath.Join(filepath.Dir(leaf), "base.vhd")} {
		_, err := Open(path, Options{})
		if !errors.Is(err, syscall.EBUSY) || disk.Errno(err) != syscall.EBUSY {
			t.Errorf("second writer of %s: %v (errno %v); want EBUSY", filepath.Base(path), err, disk.Errno(err))
		}
	}
}

func TestOutOfRange(t *testing.T) {
	d := open(t, newChain(t), Options{})
	if err := d.WriteV([][]byte{make([]byte, 4096)}, 8*mib-512, false); disk.Errno(err) != syscall.ENOSPC {
		t.Errorf("write past the end = %v; want ENOSPC", err)
	}
}

// The flusher runs while the disk is open and is gone after Close.
func TestFlusherStopsAtClose(t *testing.T) {
	before := runtime.NumGoroutine()
	d, err := Open(newChain(t), Options{FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if d.flusher == nil {
		t.Fatal("no flusher with a FlushInterval")
	}
	if err := d.WriteV([][]byte{make([]byte, 4096)}, 0, false); err != nil {
		t.Fatal(err)
	}
	time.Sleep(20 * time.Millisecond) // several flushes, concurrent with Close below
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Second); runtime.NumGoroutine() > before && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before Open", n, before)
	}
	if ro := open(t, newChain(t), Options{ReadOnly: true, FlushInterval: time.Millisecond}); ro.flusher != nil {
		t.Error("a read-only disk has a flusher")
	}
}
