package nbd

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

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

// readLoop is a connection's reader: it reads replies, in whatever
// order they come, into the slots of their requests, until the
// connection fails or closes. Then every connection of the disk is given
// up (a reply that breaks the protocol leaves nothing to trust) and
// every request still in flight here fails.
func (c *conn) readLoop() {
	defer close(c.readerDone)
	var err error
	for err == nil {
		err = c.readReply()
	}
	c.d.fail(err)
	c.drain()
}

// readReply reads one reply: a simple reply, or one chunk of a
// structured reply. err is a broken connection or a reply that breaks
// the protocol; an error the server reported goes to its request.
func (c *conn) readReply() error {
	m, err := c.br.Peek(4) // the magic tells which
	if err != nil {
		return err
	}
	switch magic := be.Uint32(m); magic {
	case wire.SimpleMagic:
		return c.readSimple()
	case wire.StructuredMagic:
		if !c.info.structured {
			return errors.New("structured reply not negotiated")
		}
		return c.readChunk()
	default:
		return fmt.Errorf("bad reply magic %#x", magic)
	}
}

// readSimple reads a simple reply.
func (c *conn) readSimple() error {
	b, err := c.readN(wire.SimpleReplySize)
	if err != nil {
		return err
	}
	var r wire.SimpleReply
	r.Parse((*[wire.SimpleReplySize]byte)(b)) // its magic was peeked
	s, err := c.lookup(r.Cookie)
	if err != nil {
		return err
	}
	read := s.call.typ == wire.CmdRead
	if read && c.info.structured {
		// The protocol forbids it, and whether data follows is anyone's
		// guess: the stream can no longer be followed.
		return errors.New("simple reply to a read after structured replies were negotiated")
	}
	if r.Errno != 0 {
		c.complete(s, wire.Errno(r.Errno))
		return nil
	}
	if read {
		if _, err := io.ReadFull(c.br, s.call.in); err != nil {
			return err
		}
	}
	c.complete(s, nil)
	return nil
}

// readN reads the next n bytes of the reply (n at most the scratch's
// size) into the reader's scratch: they are good until the next readN.
func (c *conn) readN(n int) ([]byte, error) {
	b := c.scratch[:n]
	_, err := io.ReadFull(c.br, b)
	return b, err
}
