package livesnap

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"gotap.dev/libtap/disk"
	"gotap.dev/libvhd"
)

func TestDefaultName(t *testing.T) {
	for _, tt := range []struct {
		path string
		n    int
		want string
	}{
		{"/srv/a.vhd", 1, "/srv/a.snap1.vhd"},
		{"/srv/a.snap3.vhd", 4, "/srv/a.snap4.vhd"},
		{"/srv/a.img", 2, "/srv/a.snap2.vhd"},
		{"/dev/sdb", 1, "/dev/sdb.snap1.vhd"},
		{"/srv/v1.2/disk", 1, "/srv/v1.2/disk.snap1.vhd"},
	} {
		if got := DefaultName(tt.path, tt.n); got != tt.want {
			t.Errorf("DefaultName(%q, %d) = %q; want %q", tt.path, tt.n, got, tt.want)
		}
	}
}

// create takes the first free name and never overwrites a file.
func TestCreateNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	parent := filepath.Join(dir, "a.vhd")
	im, err := libvhd.Create(parent, libvhd.CreateOptions{Type: libvhd.Dynamic, Size: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	im.Close()
	taken := filepath.Join(dir, "a.snap1.vhd")
	os.WriteFile(taken, []byte("not a snapshot"), 0o644)
	spec := disk.Spec{Type: "vhd", Path: parent}

	leaf, err := create(spec, "")
	if want := filepath.Join(dir, "a.snap2.vhd"); err != nil || leaf != want {
		t.Errorf("create = %q, %v; want %q", leaf, err, want)
	}
	if b, _ := os.ReadFile(taken); string(b) != "not a snapshot" {
		t.Errorf("%s was overwritten", taken)
	}
	if _, err := create(spec, taken); !errors.Is(err, fs.ErrExist) {
		t.Errorf("create at an existing name: err = %v; want it to exist", err)
	}
}
