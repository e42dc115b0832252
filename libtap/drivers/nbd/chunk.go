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

// readChunk reads one chunk of a structured reply into its request's
// slot; the chunk flagged done completes the request. Chunks of
// different replies may come interleaved, so what a reply has covered so
// far is kept in its slot. A read succeeds only if its content chunks
// covered every byte exactly once; the first error chunk is the
// request's error. Every payload is read into place or through small
// fixed buffers, never into memory sized by what the server claims.
func (c *conn) readChunk() error {
	b, err := c.readN(wire.ChunkHeaderSize)
	if err != nil {
		return err
	}
	var h wire.ChunkHeader
	if !h.Parse((*[wire.ChunkHeaderSize]byte)(b)) {
		return fmt.Errorf("bad chunk magic %#x", be.Uint32(b))
	}
	s, err := c.lookup(h.Cookie)
	if err != nil {
		return err
	}
	r := &s.call
	typ, length := h.Type, h.Length
	done := h.Flags&wire.ReplyFlagDone != 0
	var serverErr error
	switch {
	case typ&wire.ReplyErrorBit != 0: // every error type, known or not
		serverErr, err = c.errorChunk(typ, length)
	case typ == wire.ReplyNone:
		if length != 0 || !done {
			err = errors.New("NONE chunk with a payload or not the last")
		}
	case typ == wire.ReplyOffsetData && r.typ == wire.CmdRead:
		err = c.dataChunk(s, length)
	case typ == wire.ReplyOffsetHole && r.typ == wire.CmdRead:
		err = c.holeChunk(s, length)
	case typ == wire.ReplyBlockStatus && r.typ == wire.CmdBlockStatus:
		err = c.statusChunk(r, length)
	default:
		err = fmt.Errorf("unexpected chunk type %d for command %d", typ, r.typ)
	}
	if err != nil {
		return err
	}
	if s.serverErr == nil {
		s.serverErr = serverErr
	}
	if !done {
		return nil
	}
	if s.serverErr == nil && r.typ == wire.CmdRead && !s.cov.whole(r.n) {
		return fmt.Errorf("read reply covers %d of %d bytes", s.cov.bytes, r.n)
	}
	c.complete(s, s.serverErr)
	return nil
}

// dataChunk reads an OFFSET_DATA payload straight into place.
func (c *conn) dataChunk(s *slot, length uint32) error {
	if length <= wire.OffsetSize {
		return fmt.Errorf("data chunk of %d bytes: want at least %d", length, wire.OffsetSize+1)
	}
	o, err := c.readN(wire.OffsetSize)
	if err != nil {
		return err
	}
	at, n, err := s.place(be.Uint64(o), uint64(length-wire.OffsetSize))
	if err != nil {
		return err
	}
	_, err = io.ReadFull(c.br, s.call.in[at:at+n])
	return err
}

// holeChunk zeroes what an OFFSET_HOLE chunk says reads as zeros.
func (c *conn) holeChunk(s *slot, length uint32) error {
	if length != wire.HoleSize {
		return fmt.Errorf("hole chunk of %d bytes: want %d", length, wire.HoleSize)
	}
	b, err := c.readN(wire.HoleSize)
	if err != nil {
		return err
	}
	var h wire.Hole
	h.Parse((*[wire.HoleSize]byte)(b))
	if h.Length == 0 {
		return errors.New("empty hole chunk")
	}
	at, n, err := s.place(h.Offset, uint64(h.Length))
	if err != nil {
		return err
	}
	clear(s.call.in[at : at+n])
	return nil
}

// place checks that the disk's [off, off+n) lies within s's request and
// that no earlier chunk covered any of it, records it, and returns where
// it starts in the request's buffer and its length. The arithmetic is unsigned and
// checked before any sum, so that no offset a server sends can wrap.
func (s *slot) place(off, n uint64) (at, length int64, err error) {
	start, size := uint64(s.call.off), uint64(s.call.n)
	if off < start || off-start > size || n > size-(off-start) {
		return 0, 0, fmt.Errorf("chunk [%d, +%d) outside the request [%d, +%d)", off, n, start, size)
	}
	at, length = int64(off-start), int64(n)
	if err := s.cov.add(at, at+length); err != nil {
		return 0, 0, fmt.Errorf("chunk [%d, +%d): %w", off, n, err)
	}
	return at, length, nil
}

// errorChunk reads an error chunk: its errno is the request's error.
// Unknown error types count as errors too, as the protocol asks; the
// message (and ERROR_OFFSET's offset) is skipped.
func (c *conn) errorChunk(typ uint16, length uint32) (serverErr, err error) {
	fields := uint32(wire.ErrorPayloadSize)
	if typ == wire.ReplyErrorOffset {
		fields += wire.OffsetSize
	}
	if length < fields || length > maxErrorChunk {
		return nil, fmt.Errorf("error chunk of type %#x of %d bytes", typ, length)
	}
	b, err := c.readN(wire.ErrorPayloadSize)
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
	if _, err := c.br.Discard(int(length - wire.ErrorPayloadSize)); err != nil {
		return nil, err
	}
	return wire.Errno(p.Errno), nil
}

// statusChunk reads a BLOCK_STATUS chunk, descriptor by descriptor,
// turning those of our base:allocation context into extents.
func (c *conn) statusChunk(r *call, length uint32) error {
	if length < wire.ContextIDSize+wire.DescriptorSize || (length-wire.ContextIDSize)%wire.DescriptorSize != 0 {
		return fmt.Errorf("block status chunk of %d bytes", length)
	}
	count := (length - wire.ContextIDSize) / wire.DescriptorSize
	if int64(count) > r.n {
		// Each describes at least a byte, all together no more than asked.
		return fmt.Errorf("%d block status descriptors for %d bytes", count, r.n)
	}
	id, err := c.readN(wire.ContextIDSize)
	if err != nil {
		return err
	}
	ours := be.Uint32(id) == c.allocID
	if ours && r.status {
		return errors.New("a second block status chunk for one context")
	}
	r.status = r.status || ours
	for range count {
		b, err := c.readN(wire.DescriptorSize)
		if err != nil {
			return err
		}
		var x wire.Descriptor
		x.Parse((*[wire.DescriptorSize]byte)(b))
		if x.Length == 0 {
			return errors.New("empty block status descriptor")
		}
		if ours {
			r.addDescriptor(int64(x.Length), x.Flags&wire.StateHole != 0)
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
