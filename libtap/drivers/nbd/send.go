package nbd

import (
	"sync"
	"time"

	"gotap.dev/libtap/nbd/wire"
)

// Requests are not written one write(2) each: that was half of
// tapdisk's system calls. They are queued, and written together: by the
// starter at the end of a burst (StartV's more, Unplug), or by the
// connection's writer goroutine, which writes whatever has queued up
// while it was busy in one go.
const (
	// batchSize is the queue's capacity; a request that does not fit is
	// written by its sender, after what is queued.
	batchSize = 512 << 10
	// maxQueued is the largest payload copied into the queue: larger
	// ones are written from the caller's buffer.
	maxQueued = 32 << 10
)

// sender is a connection's write side.
type sender struct {
	qmu    sync.Mutex
	queued []byte // requests not yet written, in order
	spare  []byte // the other buffer, while the writer is not using it
	kicked bool   // the writer has been told
	kick   chan struct{}
	quit   chan struct{} // ends the writer
	wmu    sync.Mutex    // one write(2) at a time, in queue order
	hdr    [wire.RequestSize]byte
}

func newSender() sender {
	return sender{
		queued: make([]byte, 0, batchSize), spare: make([]byte, 0, batchSize),
		kick: make(chan struct{}, 1), quit: make(chan struct{}),
	}
}

// How send gets a request written.
type sendMode int

const (
	kickWriter sendMode = iota // by the writer goroutine
	writeNow                   // by the sender, with what is queued
	holdBack                   // later: with the next, or at Unplug
)

// send writes request r with cookie; its slot is registered, so its reply
// may already be on its way. A failed write breaks the connection: the
// reader then fails every request in flight, this one too.
func (c *conn) send(cookie uint64, r *call, mode sendMode) {
	req := wire.Request{Type: r.typ, Flags: r.flags, Cookie: cookie, Offset: uint64(r.off), Length: uint32(r.n)}
	c.qmu.Lock()
	if len(r.out) <= maxQueued && len(c.queued)+wire.RequestSize+len(r.out) <= cap(c.queued) {
		c.queued = append(req.Append(c.queued), r.out...)
		switch {
		case mode == writeNow:
			c.writeQueued()
		case mode == kickWriter && !c.kicked:
			c.kicked = true
			c.kick <- struct{}{}
		}
		c.qmu.Unlock()
		return
	}
	// Written here, after what is queued (the queue's lock held: nothing
	// queues behind meanwhile, and the writer waits).
	c.wmu.Lock()
	err := c.write(c.queued)
	c.queued = c.queued[:0]
	if err == nil {
		err = c.write(req.Append(c.hdr[:0]))
	}
	if err == nil {
		err = c.write(r.out)
	}
	c.wmu.Unlock()
	c.qmu.Unlock()
	if err != nil {
		c.d.fail(err)
	}
}

// writeQueued writes what is queued; the caller holds qmu.
func (c *conn) writeQueued() {
	c.wmu.Lock()
	err := c.write(c.queued)
	c.wmu.Unlock()
	c.queued = c.queued[:0]
	if err != nil {
		c.d.fail(err)
	}
}

// unplug writes what is queued, if anything.
func (c *conn) unplug() {
	c.qmu.Lock()
	if len(c.queued) > 0 {
		c.writeQueued()
	}
	c.qmu.Unlock()
}

func (c *conn) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := c.nc.Write(b)
	return err
}

// writeLoop is the connection's writer: it writes what has queued up,
// each time it is kicked, until the connection closes.
func (c *conn) writeLoop() {
	for {
		select {
		case <-c.quit:
			return
		case <-c.kick:
		}
		c.qmu.Lock()
		b := c.queued
		c.queued, c.spare, c.kicked = c.spare, nil, false
		c.wmu.Lock() // before the queue is let go: the order on the wire
		c.qmu.Unlock()
		err := c.write(b)
		c.wmu.Unlock()
		c.qmu.Lock()
		c.spare = b[:0]
		c.qmu.Unlock()
		if err != nil {
			c.d.fail(err)
		}
	}
}

// goodbye sends NBD_CMD_DISC after what is queued, unless the
// connection is broken.
func (c *conn) goodbye(timeout time.Duration) {
	c.mu.Lock()
	broken := c.broken != nil
	c.mu.Unlock()
	if broken {
		return
	}
	c.qmu.Lock()
	defer c.qmu.Unlock()
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.nc.SetWriteDeadline(time.Now().Add(timeout))
	if c.write(c.queued) == nil {
		c.write(wire.Request{Type: wire.CmdDisc}.Append(c.hdr[:0]))
	}
	c.queued = c.queued[:0]
}
