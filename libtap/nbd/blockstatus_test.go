package nbd

import (
	"slices"
	"testing"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/nbd/wire"
)

func TestDescriptorsAlignAndClip(t *testing.T) {
	type desc struct {
		n    uint32
		hole bool
	}
	data := func(off, n int64) disk.Extent { return disk.Extent{Offset: off, Length: n} }
	hole := func(off, n int64) disk.Extent { return disk.Extent{Offset: off, Length: n, Hole: true} }
	for _, tc := range []struct {
		name     string
		ext      []disk.Extent
		off, end int64
		max      int
		want     []desc
	}{
		{"aligned", []disk.Extent{data(0, 4096), hole(4096, 8192)}, 0, 12288, 10,
			[]desc{{4096, false}, {8192, true}}},
		{"hole shrinks, data grows", []disk.Extent{data(0, 100), hole(100, 2000), data(2100, 460)}, 0, 2560, 10,
			[]desc{{512, false}, {1536, true}, {512, false}}},
		{"hole inside one block is data", []disk.Extent{data(0, 100), hole(100, 300), data(400, 624)}, 0, 1024, 10,
			[]desc{{1024, false}}},
		{"clipped to the request", []disk.Extent{hole(0, 1<<20)}, 0, 4096, 10,
			[]desc{{4096, true}}},
		{"REQ_ONE", []disk.Extent{data(0, 512), hole(512, 512), data(1024, 512)}, 0, 1536, 1,
			[]desc{{512, false}}},
		{"unaligned tail of the export", []disk.Extent{data(0, 512), hole(512, 300)}, 0, 812, 10,
			[]desc{{812, false}}},
	} {
		d := descriptors{max: tc.max}
		d.encode(tc.ext, tc.off, tc.end)
		var got []desc
		for b := d.b; len(b) >= wire.DescriptorSize; b = b[wire.DescriptorSize:] {
			var x wire.Descriptor
			x.Parse((*[wire.DescriptorSize]byte)(b))
			got = append(got, desc{x.Length, x.Flags == wire.StateHole|wire.StateZero})
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: descriptors %v; want %v", tc.name, got, tc.want)
		}
	}
}
