package vhdtest

import (
	"syscall"
	"testing"
)

// AllocatedBytes is the room a file takes on disk (st_blocks), to judge
// that holes stayed holes.
func AllocatedBytes(t testing.TB, path string) int64 {
	t.Helper()
	var st syscall.Stat_t
	if err := syscall.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	return st.Blocks * 512
}
