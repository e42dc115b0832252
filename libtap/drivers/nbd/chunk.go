package nbd

import (
	"errors"
	"fmt"
	"io"

	"gotap.dev/libtap/disk"
	proto "gotap.dev/libtap/nbd"
)

// maxErrorChunk bounds an error chunk: its fields and offset, and a
// message of at most 4096 bytes, as the protocol's strings are.
const maxErrorChunk = 6 + 4096 + 8

// readChunks reads a structured reply (the first chunk's magic already
// read) up to its last chunk. A read succeeds only if its content chunks
// covered every byte exactly once; the first error chunk is the
// request's error.
func (d *Disk) readChunks(c *call) (serverErr, err error) {
	d.cov.reset()
	for {
		done, chunkErr, err := d.readChunk(c)
		if err != nil {
			return nil, err
		}
		if serverErr == nil {
			serverErr = chunkErr
		}
		if done {
			break
		}
		m, err := d.readN(4)
		if err != nil {
			return nil, err
		}
		if magic := be.Uint32(m); magic != proto.StructuredMagic {
			return nil, fmt.Errorf("bad chunk magic %#x", magic)
		}
	}
	if serverErr == nil && c.typ == proto.CmdRead && !d.cov.whole(c.n) {
		return nil, fmt.Errorf("read reply covers %d of %d bytes", d.cov.bytes, c.n)
	}
	return serverErr, nil
}

// readChunk reads one chunk (its magic already read). Every payload is
// read into place or through small fixed buffers, never into memory
// sized by what the server claims.
func (d *Disk) readChunk(c *call) (done bool, serverErr, err error) {
	h, err := d.readN(proto.ChunkHeaderSize - 4)
	if err != nil {
		return false, nil, err
	}
	flags, typ, length := be.Uint16(h), be.Uint16(h[2:]), be.Uint32(h[12:])
	if err := d.checkCookie(be.Uint64(h[4:])); err != nil {
		return false, nil, err
	}
	done = flags&proto.ReplyFlagDone != 0
	switch {
	case typ&(1<<15) != 0: // every error type, known or not
		serverErr, err = d.errorChunk(typ, length)
	case typ == proto.ReplyNone:
		if length != 0 || !done {
			err = errors.New("NONE chunk with a payload or not the last")
		}
	case typ == proto.ReplyOffsetData && c.typ == proto.CmdRead:
		err = d.dataChunk(c, length)
	case typ == proto.ReplyOffsetHole && c.typ == proto.CmdRead:
		err = d.holeChunk(c, length)
	case typ == proto.ReplyBlockStatus && c.typ == proto.CmdBlockStatus:
		err = d.statusChunk(c, length)
	default:
		err = fmt.Errorf("unexpected chunk type %d for command %d", typ, c.typ)
	}
	return done, serverErr, err
}

// dataChunk reads an OFFSET_DATA payload straight into place.
func (d *Disk) dataChunk(c *call, length uint32) error {
	if length < 9 {
		return fmt.Errorf("data chunk of %d bytes: want at least 9", length)
	}
	o, err := d.readN(8)
	if err != nil {
		return err
	}
	at, n, err := d.place(c, be.Uint64(o), uint64(length-8))
	if err != nil {
		return err
	}
	_, err = io.ReadFull(d.br, c.in[at:at+n])
	return err
}

// holeChunk zeroes what an OFFSET_HOLE chunk says reads as zeros.
func (d *Disk) holeChunk(c *call, length uint32) error {
	if length != 12 {
		return fmt.Errorf("hole chunk of %d bytes: want 12", length)
	}
	p, err := d.readN(12)
	if err != nil {
		return err
	}
	size := be.Uint32(p[8:])
	if size == 0 {
		return errors.New("empty hole chunk")
	}
	at, n, err := d.place(c, be.Uint64(p), uint64(size))
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
	fields := uint32(6) // errno, message length
	if typ == proto.ReplyErrorOffset {
		fields += 8
	}
	if length < fields || length > maxErrorChunk {
		return nil, fmt.Errorf("error chunk of type %#x of %d bytes", typ, length)
	}
	h, err := d.readN(6)
	if err != nil {
		return nil, err
	}
	code, msg := be.Uint32(h), uint32(be.Uint16(h[4:]))
	switch {
	case msg > length-fields:
		return nil, fmt.Errorf("error message of %d bytes in a chunk of %d", msg, length)
	case code == 0:
		return nil, errors.New("error chunk without an error")
	}
	if _, err := d.br.Discard(int(length - 6)); err != nil {
		return nil, err
	}
	return proto.Errno(code), nil
}

// statusChunk reads a BLOCK_STATUS chunk, descriptor by descriptor,
// turning those of our base:allocation context into extents.
func (d *Disk) statusChunk(c *call, length uint32) error {
	if length < 12 || (length-4)%8 != 0 {
		return fmt.Errorf("block status chunk of %d bytes", length)
	}
	count := (length - 4) / 8
	if int64(count) > c.n {
		// Each describes at least a byte, all together no more than asked.
		return fmt.Errorf("%d block status descriptors for %d bytes", count, c.n)
	}
	id, err := d.readN(4)
	if err != nil {
		return err
	}
	ours := be.Uint32(id) == d.allocID
	if ours && c.status {
		return errors.New("a second block status chunk for one context")
	}
	c.status = c.status || ours
	for range count {
		b, err := d.readN(8)
		if err != nil {
			return err
		}
		n := be.Uint32(b)
		if n == 0 {
			return errors.New("empty block status descriptor")
		}
		if ours {
			c.addDescriptor(int64(n), be.Uint32(b[4:])&proto.StateHole != 0)
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
