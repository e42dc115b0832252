package libvhd

import "fmt"

// Geometry is the CHS triple stored in the footer.
type Geometry struct {
	Cylinders uint16
	Heads     uint8
	Sectors   uint8 // per track
}

// Bytes is C×H×S×512: the size some readers (QEMU for most creators)
// take as the disk's size instead of the footer's current size.
func (g Geometry) Bytes() int64 {
	return int64(g.Cylinders) * int64(g.Heads) * int64(g.Sectors) * SectorSize
}

func (g Geometry) String() string {
	return fmt.Sprintf("%d/%d/%d", g.Cylinders, g.Heads, g.Sectors)
}

// GeometryFor computes the CHS geometry of a disk of size bytes, as the
// VHD specification's appendix does. It rounds down: C×H×S ≤ size.
func GeometryFor(size int64) Geometry {
	ts := size / SectorSize
	if ts > 65535*16*255 {
		ts = 65535 * 16 * 255
	}
	var spt, heads, cth int64
	if ts >= 65535*16*63 {
		spt, heads = 255, 16
		cth = ts / spt
	} else {
		spt = 17
		cth = ts / spt
		heads = max((cth+1023)/1024, 4)
		if cth >= heads*1024 || heads > 16 {
			spt, heads = 31, 16
			cth = ts / spt
		}
		if cth >= heads*1024 {
			spt, heads = 63, 16
			cth = ts / spt
		}
	}
	return Geometry{Cylinders: uint16(cth / heads), Heads: uint8(heads), Sectors: uint8(spt)}
}
