package nbd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/nbd/wire"
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
	status    bool          // our context's block status chunk came
}

// roundTrip sends c and reads its reply, within the I/O timeout. A
// server error comes back as its errno; a broken or silent connection,
// or a reply that breaks the protocol, fails this and every later
// request with EIO: nothing read after a reply that cannot be trusted
// could be.
func (d *Disk) roundTrip(c *call) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.broken != nil {
		return fmt.Errorf("nbd: %s: %w (%w)", d.addr, syscall.EIO, d.broken)
	}
	d.nc.SetDeadline(time.Now().Add(d.ioTimeout))
	d.cookie++
	d.bw.Write(wire.Request{Type: c.typ, Flags: c.flags, Cookie: d.cookie, Offset: uint64(c.off), Length: uint32(c.n)}.Append(d.scratch[:0]))
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
// structured chunks up to the one flagged done. serverErr is what the
// server reported for the request; err a broken connection or a reply
// that breaks the protocol.
func (d *Disk) readReply(c *call) (serverErr, err error) {
	m, err := d.br.Peek(4) // the magic tells which
	if err != nil {
		return nil, err
	}
	switch magic := be.Uint32(m); magic {
	case wire.SimpleMagic:
		return d.readSimple(c)
	case wire.StructuredMagic:
		if !d.structured {
			return nil, errors.New("structured reply not negotiated")
		}
		return d.readChunks(c)
	default:
		return nil, fmt.Errorf("bad reply magic %#x", magic)
	}
}

// readSimple reads a simple reply.
func (d *Disk) readSimple(c *call) (serverErr, err error) {
	b, err := d.readN(wire.SimpleReplySize)
	if err != nil {
		return nil, err
	}
	var r wire.SimpleReply
	r.Parse((*[wire.SimpleReplySize]byte)(b)) // its magic was peeked
	if err := d.checkCookie(r.Cookie); err != nil {
		return nil, err
	}
	if c.typ == wire.CmdRead && d.structured {
		// The protocol forbids it, and whether data follows is anyone's
		// guess: the stream can no longer be followed.
		return nil, errors.New("simple reply to a read after structured replies were negotiated")
	}
	if r.Errno != 0 {
		return wire.Errno(r.Errno), nil
	}
	if c.typ == wire.CmdRead {
		_, err := io.ReadFull(d.br, c.in)
		return nil, err
	}
	return nil, nil
}

// readN reads the next n bytes of the reply (n at most the scratch's
// size) into the scratch: they are good until the next readN.
func (d *Disk) readN(n int) ([]byte, error) {
	b := d.scratch[:n]
	_, err := io.ReadFull(d.br, b)
	return b, err
}

func (d *Disk) checkCookie(cookie uint64) error {
	if cookie != d.cookie {
		return fmt.Errorf("reply to request %d; want %d", cookie, d.cookie)
	}
	return nil
}
