package nbd

import (
	"encoding/binary"

	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/ring"
)

// writeLoop sends the replies of completed slots, in completion order,
// returns the slots, and flushes whenever no other reply is waiting, so
// a burst of completions goes out in few writes. After a write error it
// keeps returning slots without writing. flushOnly asks it to flush what
// sendNow left in bw.
func (c *conn) writeLoop() {
	rg := c.exp.Ring()
	var werr error
	for req := range c.replies {
		c.wmu.Lock()
		if req != flushOnly {
			if werr == nil {
				werr = c.writeReply(req)
			}
			c.queued.Add(-1)
			rg.Put(req)
			c.inflight.Done()
		}
		if werr == nil && len(c.replies) == 0 {
			werr = c.bw.Flush()
		}
		c.wmu.Unlock()
		if werr != nil && !c.draining.Load() {
			// The client is gone: wake the reader so it stops too.
			c.abort()
		}
	}
}

// flushOnly is the marker sendNow sends the writer; never a slot.
var flushOnly = new(ring.Request)

// maxIovecs is the most buffers one writev takes (Linux's UIO_MAXIOV).
const maxIovecs = 1024

// sendNow sends the replies of reqs straight to the socket, in one
// writev that does not wait, and returns their slots; it reports whether
// it took them (false: the writer sends them). It does not when a reply
// completed before them is still to be sent (replies leave in completion
// order), nor when the socket could not take them and bw could not hold
// the rest: what the socket does not take at once is left in bw for the
// writer, so the completing goroutine, which may be the one the disk's
// other connections depend on, never waits for a slow client. The
// payloads go from their slots, not copied.
func (c *conn) sendNow(reqs ...*ring.Request) bool {
	if c.tls || !c.sock.CanTryWritev() || !c.wmu.TryLock() {
		return false
	}
	defer c.wmu.Unlock()
	if c.queued.Load() > 0 || c.bw.Buffered() > 0 || c.draining.Load() || 2*len(reqs)+1 > maxIovecs {
		return false
	}
	// hdrs has room for every header (len(c.out) each), so the vector's
	// slices of it stay valid while it grows.
	hdrs, vec, size, run := c.hdrs[:0], c.vec[:0], 0, 0
	for _, req := range reqs {
		var payload []byte
		hdrs, payload = c.reply(hdrs, req)
		if len(payload) > 0 {
			vec = append(vec, hdrs[run:], payload)
			run = len(hdrs)
		}
		size += len(payload)
	}
	if run < len(hdrs) {
		vec = append(vec, hdrs[run:])
	}
	size += len(hdrs)
	defer clear(vec) // keep no pointer into the slots
	if size > c.bw.Available() {
		return false
	}
	n, ok := c.sock.TryWritev(vec...)
	if !ok {
		return false // the writer meets the error, and ends the connection
	}
	if n < size {
		// The rest fits in bw (checked above), which only copies it.
		for _, b := range vec {
			if n < len(b) {
				c.bw.Write(b[n:])
			}
			n = max(n-len(b), 0)
		}
		// Room is certain: the channel holds at most the replies of the
		// connection's other slots.
		c.replies <- flushOnly
	}
	rg := c.exp.Ring()
	for _, req := range reqs {
		rg.Put(req)
		c.inflight.Done()
	}
	return true
}

// writeReply writes one request's reply into bw.
func (c *conn) writeReply(req *ring.Request) error {
	hdr, payload := c.reply(c.out[:0], req)
	if _, err := c.bw.Write(hdr); err != nil {
		return err
	}
	_, err := c.bw.Write(payload)
	return err
}

// reply appends req's reply header to b and returns it with the payload
// that follows it. The header is made only now that the data is ready,
// so an error can still be reported. The caller holds wmu.
func (c *conn) reply(b []byte, req *ring.Request) (hdr, payload []byte) {
	if req.Err != nil {
		code := wire.ErrorCode(replyErrno(req))
		if !c.structured {
			return wire.SimpleReply{Errno: code, Cookie: req.Cookie}.Append(b), nil
		}
		b = onlyChunk(b, wire.ReplyError, req.Cookie, wire.ErrorPayloadSize)
		return wire.ErrorPayload{Errno: code}.Append(b), nil // no message
	}
	switch {
	case req.Op == ring.Read && c.structured:
		b = onlyChunk(b, wire.ReplyOffsetData, req.Cookie, wire.OffsetSize+len(req.Buf))
		return binary.BigEndian.AppendUint64(b, uint64(req.Offset)), req.Buf
	case req.Op == ring.Read:
		return wire.SimpleReply{Cookie: req.Cookie}.Append(b), req.Buf
	case req.Op == ring.BlockStatus:
		return onlyChunk(b, wire.ReplyBlockStatus, req.Cookie, len(req.Buf)), req.Buf
	}
	return wire.SimpleReply{Cookie: req.Cookie}.Append(b), nil
}

// onlyChunk appends the header of a structured reply's one chunk: this
// server answers every request in one.
func onlyChunk(b []byte, typ uint16, cookie uint64, length int) []byte {
	return wire.ChunkHeader{Flags: wire.ReplyFlagDone, Type: typ, Cookie: cookie, Length: uint32(length)}.Append(b)
}
