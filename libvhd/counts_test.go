package libvhd

import (
	"os"
	"path/filepath"
	"testing"
)

// TestCounts: a read reaches the leaf and each parent once per run it
// forwards, as blktap counts its images' hits; writes reach the leaf.
func TestCounts(t *testing.T) {
	dir := t.TempDir()
	raw := filepath.Join(dir, "base.img")
	if err := os.WriteFile(raw, make([]byte, 4<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	mid, err := Snapshot(filepath.Join(dir, "mid.vhd"), raw, SnapshotOptions{ParentRaw: true})
	if err != nil {
		t.Fatal(err)
	}
	sec := make([]byte, SectorSize)
	mustWrite := func(im *Image, off int64) {
		if _, err := im.WriteAt(sec, off); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(mid, 2*SectorSize)
	mid.Close()
	leaf, err := Snapshot(filepath.Join(dir, "leaf.vhd"), filepath.Join(dir, "mid.vhd"), SnapshotOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer leaf.Close()
	mustWrite(leaf, 0)
	// Sectors 0-3: the leaf holds 0; the rest is one run forwarded to
	// mid, which holds 2 and forwards 1 and 3 to the raw base.
	if _, err := leaf.ReadAt(make([]byte, 4*SectorSize), 0); err != nil {
		t.Fatal(err)
	}
	got := leaf.Counts()
	want := []LayerCounts{
		{Path: filepath.Join(dir, "leaf.vhd"), Hits: [2]uint64{1, 1}},
		{Path: filepath.Join(dir, "mid.vhd"), Hits: [2]uint64{1, 0}},
		{Path: raw, Raw: true, Hits: [2]uint64{2, 0}},
	}
	if len(got) != len(want) {
		t.Fatalf("Counts = %+v; want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("layer %d: %+v; want %+v", i, got[i], want[i])
		}
	}
}
