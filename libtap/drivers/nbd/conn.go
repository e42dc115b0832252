package nbd

import (
	"bufio"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"gotap.dev/libtap/internal/rawsock"
	"gotap.dev/libtap/nbd/wire"
)

// maxInFlight bounds the requests in flight on one connection: the
// scheduler above runs 32 at most, and a server is not asked to queue
// more than it must.
const maxInFlight = 64

// info is what the handshake learns of the export.
type info struct {
	size       int64
	flags      uint16
	structured bool
	allocation bool  // base:allocation selected
	maxReq     int64 // largest request length the server accepts
}

// slot is a request in flight, found by its reply's cookie: the slot's
// index and its generation, so that a reply naming a request already
// answered is told from one naming the slot's current request.
type slot struct {
	call      call
	idx       uint8 // in the connection's slots
	gen       uint32
	busy      bool
	epoch     uint32   // the watchdog's tick when it was sent
	serverErr error    // the first error chunk of its reply
	cov       coverage // what its read's chunks covered so far
	// done hears the outcome, for a caller waiting (made once, one
	// outcome per request: the send never blocks); started (StartV)
	// requests are told through cb instead, on the reader's goroutine.
	done chan error
	cb   func(error)
}

// conn is one connection to the server. Callers register their request
// in a slot, queue it for writing (send.go) and wait in the slot, or are
// called back (StartV); one reader goroutine per connection matches
// replies to slots.
type conn struct {
	d       *Disk
	nc      net.Conn
	br      *bufio.Reader   // the reader's (the handshake's before it)
	w       *rawsock.Writer // the holder of wmu's (the handshake's before it)
	export  string
	info    info
	allocID uint32 // base:allocation's context id on this connection

	sender
	// load counts callers with a request here, waiting for a slot or
	// for their reply: requests go to the least loaded connection.
	load atomic.Int32

	free chan uint8 // indexes of free slots

	mu     sync.Mutex // guards slots' registration and broken
	slots  [maxInFlight]slot
	broken error // the connection failed: every later request fails

	scratch    [wire.RequestSize]byte // the reader's, for headers
	readerDone chan struct{}
}

// dialConn connects and negotiates, within the open deadline.
func dialConn(d *Disk, network, where string, deadline time.Time) (*conn, error) {
	nc, err := (&net.Dialer{Deadline: deadline}).Dial(network, where)
	if err != nil {
		return nil, err
	}
	r, w := rawsock.IO(nc)
	c := &conn{
		d: d, nc: nc, export: d.export,
		br:         bufio.NewReaderSize(r, 64<<10),
		w:          w,
		info:       info{maxReq: wire.MaxBlock},
		free:       make(chan uint8, maxInFlight),
		readerDone: make(chan struct{}),
		sender:     newSender(),
	}
	for i := range c.slots {
		c.slots[i].idx, c.slots[i].done = uint8(i), make(chan error, 1)
		c.free <- uint8(i)
	}
	nc.SetDeadline(deadline)
	if err := c.handshake(); err != nil {
		nc.Close()
		return nil, err
	}
	nc.SetDeadline(time.Time{}) // the watchdog bounds requests from now on
	return c, nil
}

// register puts r in a free slot i as a request in flight, unless the
// connection is broken, and returns its cookie.
func (c *conn) register(i uint8, r *call, cb func(error)) (uint64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.broken != nil {
		return 0, c.d.eio(c.broken)
	}
	s := &c.slots[i]
	s.call, s.cb, s.serverErr = *r, cb, nil
	s.cov.reset()
	s.gen++
	s.busy = true
	s.epoch = c.d.epoch.Load()
	return uint64(s.gen)<<32 | uint64(i), nil
}

// lookup returns the slot of the request a reply names: one in flight,
// or the reply breaks the protocol.
func (c *conn) lookup(cookie uint64) (*slot, error) {
	i, gen := cookie&0xffffffff, uint32(cookie>>32)
	c.mu.Lock()
	defer c.mu.Unlock()
	if i >= maxInFlight || !c.slots[i].busy || c.slots[i].gen != gen {
		return nil, fmt.Errorf("reply to request %#x, not in flight", cookie)
	}
	return &c.slots[i], nil
}

// complete ends s's request with err (nil, or the server's errno).
func (c *conn) complete(s *slot, err error) {
	c.mu.Lock()
	s.busy = false
	cb := s.cb
	s.call.in, s.call.out, s.cb = nil, nil, nil // the caller's buffers are its own again
	if cb == nil {
		s.done <- err
	}
	c.mu.Unlock()
	if cb != nil {
		c.load.Add(-1)
		c.free <- s.idx
		cb(err)
	}
}

// drain fails every request still in flight once the reader has stopped.
// Nothing registers after: the connection is broken.
func (c *conn) drain() {
	for i := range c.slots {
		c.mu.Lock()
		s, cause := &c.slots[i], c.broken
		busy := s.busy
		c.mu.Unlock()
		if busy {
			c.complete(s, c.d.eio(cause))
		}
	}
}

// shut marks the connection broken by err (the first cause stays) and
// closes it, which stops its reader and any send.
func (c *conn) shut(err error) {
	c.mu.Lock()
	if c.broken == nil {
		c.broken = err
	}
	c.mu.Unlock()
	c.nc.Close()
}
