package nbd

import (
	"gotap.dev/libtap/disk"
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
		code := ErrorCode(disk.Errno(req.Err))
		if !c.structured {
			b = PutSimpleReply(b, code, req.Cookie)
		} else {
			b = PutChunk(b, ReplyFlagDone, ReplyError, req.Cookie, 6)
			b = be.AppendUint32(b, code)
			b = be.AppendUint16(b, 0) // no message
		}
		_, err := c.bw.Write(b)
		return err
	}
	var payload []byte
	switch {
	case req.Op == ring.Read && c.structured:
		b = PutChunk(b, ReplyFlagDone, ReplyOffsetData, req.Cookie, uint32(8+len(req.Buf)))
		b = be.AppendUint64(b, uint64(req.Offset))
		payload = req.Buf
	case req.Op == ring.Read:
		b = PutSimpleReply(b, 0, req.Cookie)
		payload = req.Buf
	case req.Op == opBlockStatus:
		b = PutChunk(b, ReplyFlagDone, ReplyBlockStatus, req.Cookie, uint32(len(req.Buf)))
		payload = req.Buf
	default:
		b = PutSimpleReply(b, 0, req.Cookie)
	}
	if _, err := c.bw.Write(b); err != nil {
		return err
	}
	_, err := c.bw.Write(payload)
	return err
}
