package drivertest

import (
	"os"
	"testing"

	"golang.org/x/sys/unix"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/fileio"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/uring"
	"gotap.dev/libvhd/vhdtest"
)

// CheckEngine: io_uring wherever the kernel has it, unless turned off
// (syscalls); in CI the kernel must have it.
func CheckEngine(t *testing.T, d disk.Driver, syscalls bool) {
	t.Helper()
	want := fileio.EngineIOURing
	if syscalls {
		want = fileio.EngineSyscalls
	} else if r, err := uring.New(2, 0); err != nil {
		if vhdtest.InCI() {
			t.Fatalf("io_uring unavailable in CI: %v", err)
		}
		want = fileio.EngineSyscalls
	} else {
		r.Close()
	}
	if got := d.Caps().Engine; got != want {
		t.Fatalf("Engine = %q; want %q", got, want)
	}
}

// TakesDirect reports whether path's file system reads with O_DIRECT,
// probed apart from the drivers.
func TakesDirect(path string) bool {
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_DIRECT, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	_, err = unix.Pread(int(f.Fd()), ring.AlignedBuffer(4096), 0)
	return err == nil
}
