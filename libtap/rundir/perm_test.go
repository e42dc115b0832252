package rundir

import (
	"errors"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCreateModes: the run directory and tapdisk/ are made 0700, markers
// 0600; an older 0755 tapdisk/ and blktap-control are tightened, another
// name is left as it is unless others may write it; a directory of
// another user is refused.
func TestCreateModes(t *testing.T) {
	tests := []struct {
		name     string
		leaf     string      // the run directory's name
		existing os.FileMode // 0: not there before
		want     os.FileMode // its mode after Create
		wantErr  error
	}{
		{"new", "run", 0, 0o700, nil},
		{"new default name", defaultName, 0, 0o700, nil},
		{"old default 0755", defaultName, 0o755, 0o700, nil},
		{"old default world-writable", defaultName, 0o777, 0o700, nil},
		{"own 0750 kept", "srv", 0o750, 0o750, nil},
		{"own 0755 kept", "srv", 0o755, 0o755, nil},
		{"writable by others", "shared", 0o777, 0o777, syscall.EPERM},
		{"writable by group", "shared", 0o775, 0o775, syscall.EPERM},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), tt.leaf)
			if tt.existing != 0 {
				for _, p := range []string{path, filepath.Join(path, "tapdisk")} {
					if err := os.Mkdir(p, 0o700); err != nil {
						t.Fatal(err)
					}
					if err := os.Chmod(p, tt.existing); err != nil {
						t.Fatal(err)
					}
				}
			}
			d := Dir(path)
			err := d.Create()
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil) != (err == nil) {
				t.Fatalf("Create() = %v; want %v", err, tt.wantErr)
			}
			if got := mode(t, path); got != tt.want {
				t.Errorf("run directory mode %v; want %v", got, tt.want)
			}
			if err != nil {
				return
			}
			if got := mode(t, filepath.Join(path, "tapdisk")); got != 0o700 {
				t.Errorf("tapdisk/ mode %v; want 0700", got)
			}
			if _, err := d.Allocate(1); err != nil {
				t.Fatal(err)
			}
			h, err := d.HoldNew()
			if err != nil {
				t.Fatal(err)
			}
			defer h.Release()
			for _, m := range []int{1, h.Minor()} {
				if got := mode(t, d.Marker(m)); got != 0o600 {
					t.Errorf("marker %d mode %v; want 0600", m, got)
				}
			}
		})
	}
}

func TestCreateRefusesAnotherUsersDirectory(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give a directory away")
	}
	path := filepath.Join(t.TempDir(), "run")
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	if err := Dir(path).Create(); !errors.Is(err, syscall.EPERM) {
		t.Errorf("Create() in another user's directory = %v; want EPERM", err)
	}
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}
