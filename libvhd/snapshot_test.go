package libvhd

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestSnapshot(t *testing.T) {
	dir := t.TempDir()
	at := func(name string) string { return filepath.Join(dir, name) }
	newTestImage(t, at("base.vhd"), "")
	snap := func(child, parent string, opts SnapshotOptions) (string, int, error) {
		im, err := Snapshot(at(child), at(parent), opts)
		if err != nil {
			return "", 0, err
		}
		defer im.Close()
		return filepath.Base(im.ParentPath()), im.Depth(), nil
	}
	if _, _, err := snap("empty.vhd", "base.vhd", SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		child      string
		parent     string
		opts       SnapshotOptions
		wantParent string
		wantDepth  int
		wantErr    error
	}{
		{"links past an empty differencing parent", "a.vhd", "empty.vhd", SnapshotOptions{}, "base.vhd", 2, nil},
		{"-e keeps the empty parent", "b.vhd", "empty.vhd", SnapshotOptions{KeepEmpty: true}, "empty.vhd", 3, nil},
		{"-l refuses a chain too deep", "c.vhd", "b.vhd", SnapshotOptions{KeepEmpty: true, MaxDepth: 3}, "", 0, ErrChainTooDeep},
		{"-l allows a chain at the limit", "d.vhd", "base.vhd", SnapshotOptions{MaxDepth: 2}, "base.vhd", 2, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			parent, depth, err := snap(tt.child, tt.parent, tt.opts)
			if !errors.Is(err, tt.wantErr) || parent != tt.wantParent || depth != tt.wantDepth {
				t.Errorf("Snapshot(%s, %s) = %s, depth %d, %v; want %s, %d, %v", tt.child, tt.parent, parent, depth, err, tt.wantParent, tt.wantDepth, tt.wantErr)
			}
			if err == nil {
				mustCheck(t, at(tt.child))
			}
		})
	}
}

func TestSnapshotRaw(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "disk.img")
	want := bytes.Repeat([]byte{0x5A}, 3<<20)
	if err := os.WriteFile(raw, want, 0o644); err != nil {
		t.Fatal(err)
	}
	child := filepath.Join(dir, "child.vhd")
	im, err := Snapshot(child, raw, SnapshotOptions{ParentRaw: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	got := make([]byte, len(want))
	if _, err := im.ReadAt(got, 0); err != nil || !bytes.Equal(got, want) || !im.ParentRaw() || im.Depth() != 2 {
		t.Errorf("snapshot of a raw file: read %v, raw %v, depth %d; want the raw bytes, raw, depth 2", err, im.ParentRaw(), im.Depth())
	}
	mustCheck(t, child)
}
