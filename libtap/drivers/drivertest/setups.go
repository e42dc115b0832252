package drivertest

import (
	"os"
	"testing"

	"gotap.dev/libtap/drivers/fileio"
)

// Setup is one way a file driver may meet its files: where they are
// (a disk's file system, or tmpfs), -D, and the engine.
type Setup struct {
	NoDirect   bool // -D: buffered even where O_DIRECT works
	Syscalls   bool // $GOTAP_NO_IO_URING=1: the syscall fallback
	Registered bool // the ring's memory registered as fixed buffers
	// Dir is a fresh folder on the setup's file system, removed after
	// the test.
	Dir string
}

// EachSetup runs f in a subtest for every file system (a disk, a disk
// with -D, tmpfs) on every engine (io_uring with and without registered
// buffers, the syscall fallback).
func EachSetup(t *testing.T, f func(t *testing.T, s Setup)) {
	for _, fs := range []struct {
		name, dir string
		noDirect  bool
	}{
		{"disk", t.TempDir(), false},
		{"disk, -D", t.TempDir(), true},
		{"tmpfs", "/dev/shm", false},
	} {
		for _, eng := range []struct {
			name                 string
			syscalls, registered bool
		}{
			{"io_uring fixed", false, true},
			{"io_uring", false, false},
			{"syscalls", true, false},
		} {
			t.Run(fs.name+"/"+eng.name, func(t *testing.T) {
				if _, err := os.Stat(fs.dir); err != nil {
					t.Skip(err)
				}
				if eng.syscalls {
					t.Setenv(fileio.EnvNoIOURing, "1")
				}
				dir, err := os.MkdirTemp(fs.dir, "gotap-test-")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { os.RemoveAll(dir) })
				f(t, Setup{NoDirect: fs.noDirect, Syscalls: eng.syscalls, Registered: eng.registered, Dir: dir})
			})
		}
	}
}
