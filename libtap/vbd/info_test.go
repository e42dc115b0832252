package vbd

import (
	"context"
	"path/filepath"
	"slices"
	"testing"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/ring"
	"gotap.dev/libvhd"
)

// TestInfoCountsImages: Info reports each image of the chain with the
// requests that reached it; a driver that keeps no counts of its own
// (aio) is one image with the VBD's. A request refused before the
// driver reaches no image.
func TestInfoCountsImages(t *testing.T) {
	dir := t.TempDir()
	base, leaf := filepath.Join(dir, "base.vhd"), filepath.Join(dir, "leaf.vhd")
	im, err := libvhd.Create(base, libvhd.CreateOptions{Type: libvhd.Dynamic, Size: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	im.Close()
	if im, err = libvhd.Snapshot(leaf, base, libvhd.SnapshotOptions{}); err != nil {
		t.Fatal(err)
	}
	im.Close()
	raw := rawFile(t, 4<<20)
	for _, tc := range []struct {
		spec string
		want []wire.Image
	}{
		{"vhd:" + leaf, []wire.Image{
			{Path: leaf, Driver: "vhd", Hits: [2]uint64{2, 1}},
			{Path: base, Driver: "vhd", Hits: [2]uint64{1, 0}},
		}},
		{"aio:" + raw, []wire.Image{{Path: raw, Driver: "aio", Hits: [2]uint64{2, 1}}}},
	} {
		v, err := Open(0, tc.spec, testOptions())
		if err != nil {
			t.Fatal(err)
		}
		defer v.Close(context.Background())
		do(t, v, ring.Write, 0, make([]byte, 4096))
		do(t, v, ring.Read, 0, make([]byte, 4096))    // the leaf holds it
		do(t, v, ring.Read, 8192, make([]byte, 4096)) // the base's
		do(t, v, ring.Read, 4<<20, make([]byte, 512)) // past the end: refused before the driver
		if got := v.Info().Chain; !slices.Equal(got, tc.want) {
			t.Errorf("%s: Info().Chain = %+v; want %+v", tc.spec, got, tc.want)
		}
	}
}
