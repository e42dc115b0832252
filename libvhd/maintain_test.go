package libvhd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// mustCheck fails the test unless path (and its parents) check valid.
func mustCheck(t *testing.T, path string) {
	t.Helper()
	problems, err := Check(path, CheckOptions{Parents: true, Bitmaps: true})
	if err != nil || len(problems) > 0 {
		t.Fatalf("Check(%s) = %v, %v; want valid", path, problems, err)
	}
}

// openRO opens path to inspect it, without a lock: the tests keep it open
// while they change the image again.
func openRO(t *testing.T, path string) *Image {
	t.Helper()
	im, err := Open(path, OpenOptions{ReadOnly: true, NoLock: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { im.Close() })
	return im
}

func TestSetHidden(t *testing.T) {
	for _, typ := range []DiskType{Dynamic, Fixed} {
		t.Run(typ.String(), func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "disk.vhd")
			im, err := Create(path, CreateOptions{Type: typ, Size: 4 << 20})
			if err != nil {
				t.Fatal(err)
			}
			im.Close()
			if err := SetHidden(path, 1, nil); err != nil {
				t.Fatal(err)
			}
			if got := openRO(t, path).Footer().Hidden; got != 1 {
				t.Errorf("hidden = %d; want 1", got)
			}
			mustCheck(t, path) // includes: the copy at 0 equals the EOF footer
			if err := SetHidden(path, 2, nil); err == nil {
				t.Error("SetHidden(2) succeeded; want an error")
			}
		})
	}
}

func TestSetMarker(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "disk.vhd")
	newTestImage(t, path, "")
	if err := SetMarker(path, 7, nil); err != nil {
		t.Fatal(err)
	}
	if h, _, _ := openRO(t, path).Batmap(); h.Marker != 7 {
		t.Errorf("marker = %d; want 7", h.Marker)
	}
	mustCheck(t, path)

	fixed := filepath.Join(dir, "fixed.vhd")
	im, err := Create(fixed, CreateOptions{Type: Fixed, Size: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	im.Close()
	if err := SetMarker(fixed, 1, nil); !errors.Is(err, ErrNoBatmap) {
		t.Errorf("SetMarker(fixed) = %v; want ErrNoBatmap", err)
	}
}

func TestRepairFooter(t *testing.T) {
	tests := []struct {
		name     string
		damage   bool
		fromCopy bool
		want     bool
	}{
		{"damaged EOF footer", true, false, true},
		{"healthy, nothing to do", false, false, false},
		{"healthy, -b copies anyway", false, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "disk.vhd")
			newTestImage(t, path, "")
			if tt.damage {
				patch(t, path, -FooterSize, []byte("garbage!"))
			}
			got, err := RepairFooter(path, tt.fromCopy, nil)
			if err != nil || got != tt.want {
				t.Fatalf("RepairFooter = %v, %v; want %v", got, err, tt.want)
			}
			mustCheck(t, path)
			if !bytes.Equal(readAt(t, path, -FooterSize, FooterSize), readAt(t, path, 0, FooterSize)) {
				t.Error("EOF footer differs from the copy at 0")
			}
		})
	}
}

func TestSetPhysicalSize(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk.vhd")
	newTestImage(t, path, "")
	size := fileSize(t, path)
	want := bytes.Repeat([]byte{0xAB}, 4096)
	for _, tt := range []struct {
		name    string
		size    int64
		wantErr string
	}{
		{"grow by 1 MiB", size + 1<<20, ""},
		{"back to the original size", size, ""},
		{"into the last block", size - 4096, "cut into data"},
		{"not whole sectors", size + 100, "whole number of sectors"},
	} {
		err := SetPhysicalSize(path, tt.size, nil)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("%s: SetPhysicalSize(%d) = %v; want %q", tt.name, tt.size, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if got := fileSize(t, path); got != tt.size {
			t.Errorf("%s: file size %d; want %d", tt.name, got, tt.size)
		}
		mustCheck(t, path)
		got := make([]byte, 4096)
		if _, err := openRO(t, path).ReadAt(got, 0); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: data changed (%v)", tt.name, err)
		}
	}
}

func TestEmptyBAT(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "disk.vhd")
	newTestImage(t, path, "")
	if err := EmptyBAT(path, nil); err != nil {
		t.Fatal(err)
	}
	mustCheck(t, path)
	im := openRO(t, path)
	if n := im.AllocatedBlocks(); n != 0 {
		t.Errorf("allocated blocks = %d; want 0", n)
	}
	got := make([]byte, 2<<20)
	if _, err := im.ReadAt(got, 0); err != nil || !bytes.Equal(got, make([]byte, 2<<20)) {
		t.Errorf("block 0 does not read as zeros after EmptyBAT (%v)", err)
	}
	if _, bits, _ := im.Batmap(); !bytes.Equal(bits, make([]byte, len(bits))) {
		t.Error("batmap not cleared")
	}
	if got := fileSize(t, path); got != 0xC00+FooterSize {
		t.Errorf("file size %d; want %d (metadata and footer only)", got, 0xC00+FooterSize)
	}
}

func TestSetParent(t *testing.T) {
	dir := t.TempDir()
	long := filepath.Join(dir, strings.Repeat("d", 200), strings.Repeat("e", 200))
	if err := os.MkdirAll(long, 0o755); err != nil {
		t.Fatal(err)
	}
	// The long folder is allowed to hold parents (parentpolicy.go), for
	// SetParent, Check and Open alike.
	t.Setenv(ParentDirsEnv, long)
	raw := filepath.Join(dir, "raw.img")
	if err := os.WriteFile(raw, bytes.Repeat([]byte{0x5A}, testSize), 0o644); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(dir, "base.vhd")
	copyBase := filepath.Join(long, "copy.vhd")
	newTestImage(t, base, "")
	newTestImage(t, copyBase, "")
	leaf := filepath.Join(dir, "leaf.vhd")
	im, err := Create(leaf, CreateOptions{Parent: base})
	if err != nil {
		t.Fatal(err)
	}
	im.Close()
	for _, tt := range []struct {
		name   string
		parent string
		raw    bool
	}{
		{"a parent whose path overflows the old locator space", copyBase, false},
		{"back to a short path", base, false},
		{"a raw parent", raw, true},
	} {
		if err := SetParent(leaf, tt.parent, tt.raw, nil); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		mustCheck(t, leaf)
		if got := openRO(t, leaf).ParentPath(); got != tt.parent {
			t.Errorf("%s: parent = %s; want %s", tt.name, got, tt.parent)
		}
	}
	if err := SetParent(base, raw, true, nil); !errors.Is(err, ErrNotDifferencing) {
		t.Errorf("SetParent(dynamic) = %v; want ErrNotDifferencing", err)
	}
}
