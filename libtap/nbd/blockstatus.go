package nbd

import (
	"encoding/binary"
	"syscall"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/ring"
)

// allocationID is the id the base:allocation context gets in
// NBD_OPT_SET_META_CONTEXT; block status chunks carry it.
const allocationID = 1

// maxDescriptors bounds one block status reply; a client asks again from
// where the reply ended.
const maxDescriptors = 2048

// blockStatus encodes a completed block status's extents into the slot's
// buffer as a base:allocation payload: the context id, then (length,
// flags) pairs.
func (c *conn) blockStatus(req *ring.Request) {
	d := descriptors{b: req.Data(wire.ContextIDSize + wire.DescriptorSize*maxDescriptors)[:0], max: maxDescriptors}
	if req.Flags&ring.OneExtent != 0 {
		d.max = 1
	}
	d.b = binary.BigEndian.AppendUint32(d.b, allocationID)
	d.encode(req.Extents, req.Offset, req.Offset+req.Length)
	if d.n == 0 {
		req.Err = syscall.EIO // the driver mapped nothing of the range
		return
	}
	req.Buf = d.b
}

// descriptors encodes extents as base:allocation descriptors.
type descriptors struct {
	b      []byte
	n, max int
	last   wire.Descriptor // the last encoded: the next may extend it
	full   bool
}

// encode describes [off, end) from ext, moving every boundary to a
// multiple of wire.MinBlock (QEMU hangs up on unaligned extents): a block
// holding any data is data, so holes shrink and data grows.
func (d *descriptors) encode(ext []disk.Extent, off, end int64) {
	pos := off // described up to here
	for _, x := range ext {
		s, e := x.Offset, x.Offset+x.Length
		if x.Hole {
			s, e = alignUp(s), alignDown(e)
		} else {
			s, e = alignDown(s), alignUp(e)
		}
		s, e = max(s, pos), min(e, end)
		if s >= e {
			continue
		}
		d.add(s-pos, false) // what a shrunken hole left: data
		d.add(e-s, x.Hole)
		pos = e
	}
	if k := len(ext); k > 0 {
		d.add(min(ext[k-1].Offset+ext[k-1].Length, end)-pos, false)
	}
}

func (d *descriptors) add(length int64, hole bool) {
	if length <= 0 || d.full {
		return
	}
	var flags uint32
	if hole {
		flags = wire.StateHole | wire.StateZero
	}
	if d.n > 0 && d.last.Flags == flags {
		d.last.Length += uint32(length)
		d.b = d.last.Append(d.b[:len(d.b)-wire.DescriptorSize])
		return
	}
	if d.n == d.max {
		d.full = true
		return
	}
	d.last = wire.Descriptor{Length: uint32(length), Flags: flags}
	d.b = d.last.Append(d.b)
	d.n++
}

func alignDown(x int64) int64 { return x &^ (wire.MinBlock - 1) }
func alignUp(x int64) int64   { return alignDown(x + wire.MinBlock - 1) }
