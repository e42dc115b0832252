package nbd

import (
	"encoding/binary"

	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/ring"
)

// writeLoop sends the replies of completed slots, in completion order,
// returns the slots, and flushes whenever no other reply is waiting, so
// a burst of completions goes out in few writes. After a write error it
// keeps returning slots without writing.
func (c *conn) writeLoop() {
	rg := c.exp.Ring()
	var werr error
	for req := range c.replies {
		if werr == nil {
			werr = c.writeReply(req)
		}
		rg.Put(req)
		c.inflight.Done()
		if werr == nil && len(c.replies) == 0 {
			werr = c.bw.Flush()
		}
		if werr != nil && !c.draining.Load() {
			// The client is gone: wake the reader so it stops too.
			c.abort()
		}
	}
}

// writeReply writes one request's reply. The header goes out only now
// that the data is ready, so an error can still be reported.
func (c *conn) writeReply(req *ring.Request) error {
	b := c.out[:0]
	if req.Err != nil {
		code := wire.ErrorCode(replyErrno(req))
		if !c.structured {
			b = wire.SimpleReply{Errno: code, Cookie: req.Cookie}.Append(b)
		} else {
			b = onlyChunk(b, wire.ReplyError, req.Cookie, wire.ErrorPayloadSize)
			b = wire.ErrorPayload{Errno: code}.Append(b) // no message
		}
		_, err := c.bw.Write(b)
		return err
	}
	var payload []byte
	switch {
	case req.Op == ring.Read && c.structured:
		b = onlyChunk(b, wire.ReplyOffsetData, req.Cookie, wire.OffsetSize+len(req.Buf))
		b = binary.BigEndian.AppendUint64(b, uint64(req.Offset))
		payload = req.Buf
	case req.Op == ring.Read:
		b = wire.SimpleReply{Cookie: req.Cookie}.Append(b)
		payload = req.Buf
	case req.Op == ring.BlockStatus:
		b = onlyChunk(b, wire.ReplyBlockStatus, req.Cookie, len(req.Buf))
		payload = req.Buf
	default:
		b = wire.SimpleReply{Cookie: req.Cookie}.Append(b)
	}
	if _, err := c.bw.Write(b); err != nil {
		return err
	}
	_, err := c.bw.Write(payload)
	return err
}

// onlyChunk appends the header of a structured reply's one chunk: this
// server answers every request in one.
func onlyChunk(b []byte, typ uint16, cookie uint64, length int) []byte {
	return wire.ChunkHeader{Flags: wire.ReplyFlagDone, Type: typ, Cookie: cookie, Length: uint32(length)}.Append(b)
}
