package fileio

import (
	"os"
	"path/filepath"
	"testing"
)

// TestOpen: O_DIRECT where the file system takes it and it is asked
// for, buffered otherwise; a file created by an open with O_DIRECT that
// the file system then refuses is opened again, not created twice.
func TestOpen(t *testing.T) {
	for _, tc := range []struct {
		name, dir    string
		direct, want bool
	}{
		{"disk", t.TempDir(), true, true},
		{"disk, buffered asked", t.TempDir(), false, false},
		{"tmpfs", "/dev/shm", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := os.Stat(tc.dir); err != nil {
				t.Skip(err)
			}
			dir, err := os.MkdirTemp(tc.dir, "fileio-test-")
			if err != nil {
				t.Fatal(err)
			}
			defer os.RemoveAll(dir)
			path := filepath.Join(dir, "f")
			if err := os.WriteFile(path, make([]byte, 4096), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.dir == "/dev/shm" && takesDirect(t, path) {
				t.Skip("this tmpfs takes O_DIRECT")
			}
			f, direct, err := Open(path, os.O_RDWR, 0, tc.direct)
			if err != nil {
				t.Fatal(err)
			}
			f.Close()
			if direct != tc.want {
				t.Errorf("direct = %v; want %v", direct, tc.want)
			}
			created := filepath.Join(dir, "new")
			f, _, err = Open(created, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644, tc.direct)
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			f.Close()
		})
	}
}

func takesDirect(t *testing.T, path string) bool {
	f, direct, err := Open(path, os.O_RDONLY, 0, true)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
	return direct
}
