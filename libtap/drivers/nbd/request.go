package nbd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"gotap.dev/libtap/disk"
	proto "gotap.dev/libtap/nbd"
)

var be = binary.BigEndian

// call is one request and what its reply fills in.
type call struct {
	typ, flags uint16
	off, n     int64
	out        []byte // write payload
	in         []byte // read destination, n bytes

	ext       []disk.Extent // block status: extents appended here
	described int64         // and how many bytes they cover
}

// roundTrip sends c and reads its reply, within the I/O timeout. A
// server error comes back as its errno; a broken or silent connection
// fails this and every later request with EIO.
func (d *Disk) roundTrip(c *call) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.broken != nil {
		return fmt.Errorf("nbd: %s: %w (%w)", d.addr, syscall.EIO, d.broken)
	}
	d.nc.SetDeadline(time.Now().Add(d.ioTimeout))
	d.cookie++
	var h [proto.RequestSize]byte
	(&proto.Request{Type: c.typ, Flags: c.flags, Cookie: d.cookie, Offset: uint64(c.off), Length: uint32(c.n)}).Put(&h)
	d.bw.Write(h[:])
	d.bw.Write(c.out)
	err := d.bw.Flush()
	var serverErr error
	if err == nil {
		serverErr, err = d.readReply(c)
	}
	if err != nil {
		d.broken = err
		d.nc.Close()
		return fmt.Errorf("nbd: %s: %w (%w)", d.addr, syscall.EIO, err)
	}
	return serverErr
}

// readReply reads the reply to the request in flight: a simple reply, or
// structured chunks up to the one flagged done.
func (d *Disk) readReply(c *call) (serverErr, err error) {
	var m [4]byte
	if _, err := io.ReadFull(d.br, m[:]); err != nil {
		return nil, err
	}
	switch be.Uint32(m[:]) {
	case proto.SimpleMagic:
		var h [proto.SimpleReplySize - 4]byte
		if _, err := io.ReadFull(d.br, h[:]); err != nil {
			return nil, err
		}
		if err := d.checkCookie(be.Uint64(h[4:])); err != nil {
			return nil, err
		}
		if code := be.Uint32(h[:]); code != 0 {
			return proto.Errno(code), nil
		}
		if c.typ == proto.CmdRead {
			_, err := io.ReadFull(d.br, c.in)
			return nil, err
		}
		return nil, nil
	case proto.StructuredMagic:
		if !d.structured {
			return nil, errors.New("structured reply not negotiated")
		}
		for {
			done, chunkErr, err := d.readChunk(c)
			if err != nil {
				return nil, err
			}
			if chunkErr != nil && serverErr == nil {
				serverErr = chunkErr
			}
			if done {
				return serverErr, nil
			}
			if _, err := io.ReadFull(d.br, m[:]); err != nil {
				return nil, err
			}
			if be.Uint32(m[:]) != proto.StructuredMagic {
				return nil, fmt.Errorf("bad chunk magic %#x", be.Uint32(m[:]))
			}
		}
	}
	return nil, fmt.Errorf("bad reply magic %#x", be.Uint32(m[:]))
}

func (d *Disk) checkCookie(cookie uint64) error {
	if cookie != d.cookie {
		return fmt.Errorf("reply to request %d; want %d", cookie, d.cookie)
	}
	return nil
}

// readChunk reads one structured chunk (its magic already read).
func (d *Disk) readChunk(c *call) (done bool, serverErr, err error) {
	var h [proto.ChunkHeaderSize - 4]byte
	if _, err := io.ReadFull(d.br, h[:]); err != nil {
		return false, nil, err
	}
	flags, typ, length := be.Uint16(h[:]), be.Uint16(h[2:]), be.Uint32(h[12:])
	if err := d.checkCookie(be.Uint64(h[4:])); err != nil {
		return false, nil, err
	}
	done = flags&proto.ReplyFlagDone != 0
	if typ == proto.ReplyOffsetData && c.typ == proto.CmdRead {
		// Read the data straight into place, not through a buffer.
		var o [8]byte
		if length < 8 {
			return false, nil, errors.New("short data chunk")
		}
		if _, err := io.ReadFull(d.br, o[:]); err != nil {
			return false, nil, err
		}
		at := int64(be.Uint64(o[:])) - c.off
		if at < 0 || at+int64(length-8) > int64(len(c.in)) {
			return false, nil, fmt.Errorf("data chunk outside the request")
		}
		_, err := io.ReadFull(d.br, c.in[at:at+int64(length-8)])
		return done, nil, err
	}
	payload := make([]byte, length)
	if _, err := io.ReadFull(d.br, payload); err != nil {
		return false, nil, err
	}
	switch {
	case typ == proto.ReplyNone:
	case typ == proto.ReplyOffsetHole && c.typ == proto.CmdRead && length == 12:
		at := int64(be.Uint64(payload)) - c.off
		n := int64(be.Uint32(payload[8:]))
		if at < 0 || at+n > int64(len(c.in)) {
			return false, nil, fmt.Errorf("hole chunk outside the request")
		}
		clear(c.in[at : at+n])
	case typ == proto.ReplyBlockStatus && c.typ == proto.CmdBlockStatus && length >= 4:
		if be.Uint32(payload) == d.allocID {
			c.addDescriptors(payload[4:])
		}
	case typ&(1<<15) != 0 && length >= 6: // an error chunk
		return done, proto.Errno(be.Uint32(payload)), nil
	default:
		return false, nil, fmt.Errorf("unexpected chunk type %d for command %d", typ, c.typ)
	}
	return done, nil, nil
}

// addDescriptors turns base:allocation descriptors into extents, clipped
// to the request.
func (c *call) addDescriptors(b []byte) {
	pos := c.off + c.described
	for ; len(b) >= 8 && c.described < c.n; b = b[8:] {
		n := min(int64(be.Uint32(b)), c.n-c.described)
		hole := be.Uint32(b[4:])&proto.StateHole != 0
		c.ext = disk.AppendExtent(c.ext, disk.Extent{Offset: pos, Length: n, Hole: hole})
		pos += n
		c.described += n
	}
}
