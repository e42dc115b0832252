package nbd

import (
	"errors"
	"fmt"
	"io"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/nbd/wire"
)

// maxErrorChunk bounds an error chunk: its fields and offset, and a
// message no longer than the protocol's strings.
const maxErrorChunk = wire.ErrorPayloadSize + wire.MaxString + wire.OffsetSize

// readChunks reads a structured reply up to its last chunk. A read
// succeeds only if its content chunks covered every byte exactly once;
// the first error chunk is the request's error.
func (d *Disk) readChunks(c *call) (serverErr, err error) {
	d.cov.reset()
	for done := false; !done; {
		var chunkErr error
		done, chunkErr, err = d.readChunk(c)
		if err != nil {
			return nil, err
		}
		if serverErr == nil {
			serverErr = chunkErr
		}
	}
	if serverErr == nil && c.typ == wire.CmdRead && !d.cov.whole(c.n) {
		return nil, fmt.Errorf("read reply covers %d of %d bytes", d.cov.bytes, c.n)
	}
	return serverErr, nil
}

// readChunk reads one chunk. Every payload is read into place or
// through small fixed buffers, never into memory sized by what the
// server claims.
func (d *Disk) readChunk(c *call) (done bool, serverErr, err error) {
	b, err := d.readN(wire.ChunkHeaderSize)
	if err != nil {
		return false, nil, err
	}
	var h wire.ChunkHeader
	if !h.Parse((*[wire.ChunkHeaderSize]byte)(b)) {
		return false, nil, fmt.Errorf("bad chunk magic %#x", be.Uint32(b))
	}
	if err := d.checkCookie(h.Cookie); err != nil {
		return false, nil, err
	}
	typ, length := h.Type, h.Length
	done = h.Flags&wire.ReplyFlagDone != 0
	switch {
	case typ&wire.ReplyErrorBit != 0: // every error type, known or not
		serverErr, err = d.errorChunk(typ, length)
	case typ == wire.ReplyNone:
		if length != 0 || !done {
			err = errors.New("NONE chunk with a payload or not the last")
		}
	case typ == wire.ReplyOffsetData && c.typ == wire.CmdRead:
		err = d.dataChunk(c, length)
	case typ == wire.ReplyOffsetHole && c.typ == wire.CmdRead:
		err = d.holeChunk(c, length)
	case typ == wire.ReplyBlockStatus && c.typ == wire.CmdBlockStatus:
		err = d.statusChunk(c, length)
	default:
		err = fmt.Errorf("unexpected chunk type %d for command %d", typ, c.typ)
	}
	return done, serverErr, err
}

// dataChunk reads an OFFSET_DATA payload straight into place.
func (d *Disk) dataChunk(c *call, length uint32) error {
	if length <= wire.OffsetSize {
		return fmt.Errorf("data chunk of %d bytes: want at least %d", length, wire.OffsetSize+1)
	}
	o, err := d.readN(wire.OffsetSize)
	if err != nil {
		return err
	}
	at, n, err := d.place(c, be.Uint64(o), uint64(length-wire.OffsetSize))
	if err != nil {
		return err
	}
	_, err = io.ReadFull(d.br, c.in[at:at+n])
	return err
}

// holeChunk zeroes what an OFFSET_HOLE chunk says reads as zeros.
func (d *Disk) holeChunk(c *call, length uint32) error {
	if length != wire.HoleSize {
		return fmt.Errorf("hole chunk of %d bytes: want %d", length, wire.HoleSize)
	}
	b, err := d.readN(wire.HoleSize)
	if err != nil {
		return err
	}
	var h wire.Hole
	h.Parse((*[wire.HoleSize]byte)(b))
	if h.Length == 0 {
		return errors.New("empty hole chunk")
	}
	at, n, err := d.place(c, h.Offset, uint64(h.Length))
	if err != nil {
		return err
	}
	clear(c.in[at : at+n])
	return nil
}

// place checks that the disk's [off, off+n) lies within c's request and
// that no earlier chunk covered any of it, records it, and returns where
// it starts in c.in and its length. The arithmetic is unsigned and
// checked before any sum, so that no offset a server sends can wrap.
func (d *Disk) place(c *call, off, n uint64) (at, length int64, err error) {
	start, size := uint64(c.off), uint64(c.n)
	if off < start || off-start > size || n > size-(off-start) {
		return 0, 0, fmt.Errorf("chunk [%d, +%d) outside the request [%d, +%d)", off, n, start, size)
	}
	at, length = int64(off-start), int64(n)
	if err := d.cov.add(at, at+length); err != nil {
		return 0, 0, fmt.Errorf("chunk [%d, +%d): %w", off, n, err)
	}
	return at, length, nil
}

// errorChunk reads an error chunk: its errno is the request's error.
// Unknown error types count as errors too, as the protocol asks; the
// message (and ERROR_OFFSET's offset) is skipped.
func (d *Disk) errorChunk(typ uint16, length uint32) (serverErr, err error) {
	fields := uint32(wire.ErrorPayloadSize)
	if typ == wire.ReplyErrorOffset {
		fields += wire.OffsetSize
	}
	if length < fields || length > maxErrorChunk {
		return nil, fmt.Errorf("error chunk of type %#x of %d bytes", typ, length)
	}
	b, err := d.readN(wire.ErrorPayloadSize)
	if err != nil {
		return nil, err
	}
	var p wire.ErrorPayload
	p.Parse((*[wire.ErrorPayloadSize]byte)(b))
	switch {
	case uint32(p.MessageLen) > length-fields:
		return nil, fmt.Errorf("error message of %d bytes in a chunk of %d", p.MessageLen, length)
	case p.Errno == 0:
		return nil, errors.New("error chunk without an error")
	}
	if _, err := d.br.Discard(int(length - wire.ErrorPayloadSize)); err != nil {
		return nil, err
	}
	return wire.Errno(p.Errno), nil
}

// statusChunk reads a BLOCK_STATUS chunk, descriptor by descriptor,
// turning those of our base:allocation context into extents.
func (d *Disk) statusChunk(c *call, length uint32) error {
	if length < wire.ContextIDSize+wire.DescriptorSize || (length-wire.ContextIDSize)%wire.DescriptorSize != 0 {
		return fmt.Errorf("block status chunk of %d bytes", length)
	}
	count := (length - wire.ContextIDSize) / wire.DescriptorSize
	if int64(count) > c.n {
		// Each describes at least a byte, all together no more than asked.
		return fmt.Errorf("%d block status descriptors for %d bytes", count, c.n)
	}
	id, err := d.readN(wire.ContextIDSize)
	if err != nil {
		return err
	}
	ours := be.Uint32(id) == d.allocID
	if ours && c.status {
		return errors.New("a second block status chunk for one context")
	}
	c.status = c.status || ours
	for range count {
		b, err := d.readN(wire.DescriptorSize)
		if err != nil {
			return err
		}
		var x wire.Descriptor
		x.Parse((*[wire.DescriptorSize]byte)(b))
		if x.Length == 0 {
			return errors.New("empty block status descriptor")
		}
		if ours {
			c.addDescriptor(int64(x.Length), x.Flags&wire.StateHole != 0)
		}
	}
	return nil
}

// addDescriptor turns a base:allocation descriptor into an extent,
// clipped to the request.
func (c *call) addDescriptor(n int64, hole bool) {
	n = min(n, c.n-c.described)
	c.ext = disk.AppendExtent(c.ext, disk.Extent{Offset: c.off + c.described, Length: n, Hole: hole})
	c.described += n
}
