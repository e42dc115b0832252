package nbd

import (
	"sync"
	"time"

	"gotap.dev/libtap/nbd/wire"
)

// Requests are not written one write(2) each: that was half of
// tapdisk's system calls. They are queued, and whoever finds nobody
// writing becomes the writer: it writes what is queued, and again what
// queued up meanwhile, until nothing is left. Callers sending at once
// thus share system calls, and a lone caller writes its own request at
// once, without waking anyone. A burst from the Starter (StartV's more)
// is held in the queue until its last request or Unplug.
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
	qmu     sync.Mutex
	queued  []byte     // requests not yet written, in order
	spare   []byte     // the other buffer, while nobody writes
	writing bool       // someone is writing, and will write what queues
	wmu     sync.Mutex // one write(2) at a time, in queue order
	hdr     [wire.RequestSize]byte
}

func newSender() sender {
	return sender{queued: make([]byte, 0, batchSize), spare: make([]byte, 0, batchSize)}
}

// send writes request r with cookie, or with more (a burst's requests
// but the last) leaves it queued for the next. Its slot is registered,
// so its reply may already be on its way. A failed write breaks the
// connection: the reader then fails every request in flight, this one
// too.
func (c *conn) send(cookie uint64, r *call, more bool) {
	req := wire.Request{Type: r.typ, Flags: r.flags, Cookie: cookie, Offset: uint64(r.off), Length: uint32(r.n)}
	c.qmu.Lock()
	if len(r.out) <= maxQueued && len(c.queued)+wire.RequestSize+len(r.out) <= cap(c.queued) {
		c.queued = append(req.Append(c.queued), r.out...)
		if !more {
			c.writeQueued()
		}
		c.qmu.Unlock()
		return
	}
	// Written here, after what is queued (the queue's lock held: nothing
	// queues behind meanwhile, and a writer at work finishes first).
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

// writeQueued becomes the writer unless someone is: it writes what is
// queued, the queue let go meanwhile, until nothing is left. The caller
// holds qmu, held again on return.
func (c *conn) writeQueued() {
	if c.writing {
		return // the writer at work takes it
	}
	c.writing = true
	for len(c.queued) > 0 {
		b := c.queued
		c.queued, c.spare = c.spare, nil
		c.wmu.Lock() // before the queue is let go: the order on the wire
		c.qmu.Unlock()
		err := c.write(b)
		c.wmu.Unlock()
		if err != nil {
			c.d.fail(err)
		}
		c.qmu.Lock()
		c.spare = b[:0]
	}
	c.writing = false
}

// unplug writes what a burst left queued, if anything.
func (c *conn) unplug() {
	c.qmu.Lock()
	c.writeQueued()
	c.qmu.Unlock()
}

func (c *conn) write(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	_, err := c.w.Write(b)
	return err
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
