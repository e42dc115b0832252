package nbd

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gotap.dev/libtap/internal/idlepoll"
	"gotap.dev/libtap/internal/rawsock"
	"gotap.dev/libtap/nbd/wire"
	"gotap.dev/libtap/ring"
)

// drainTimeout bounds how long a closing connection may take to send its
// last replies to a client that stopped reading.
const drainTimeout = 10 * time.Second

var errBadMagic = errors.New("bad request magic: protocol violation")

// conn is one client connection. It is the Owner of every slot it
// submits: Complete answers the slot, or hands it to the writer
// goroutine.
type conn struct {
	srv     *Server
	raw     net.Conn // the socket: deadlines and close act here, under TLS too
	needTLS bool
	log     *slog.Logger
	br      *bufio.Reader
	bw      *bufio.Writer

	// Negotiated in the handshake.
	name       string // guarded by srv.mu: Remove matches on it
	exp        Export
	tls        bool
	noZeroes   bool
	structured bool
	allocation bool // base:allocation selected
	flags      uint16

	ctx      context.Context // ends on abort: a reader waiting for a slot gives up
	cancel   context.CancelFunc
	draining atomic.Bool
	replies  chan *ring.Request
	inflight sync.WaitGroup // slots taken and not yet answered
	// pending counts the requests submitted and not yet completed: the
	// completion that brings it to zero has no other reply to go out
	// with, and is sent at once (sendNow).
	pending atomic.Int32
	// queued counts the replies handed to the writer and not yet in bw.
	queued atomic.Int32
	closed chan struct{}

	// From the end of its wait for a request to its next submit, the
	// reader collects what completes, and sends it itself before it may
	// wait again (submit): one write, without the writer's wake-up, for
	// the requests a submission completes inside it (page-cache reads,
	// buffered writes), and for what the reaper completes meanwhile.
	collecting atomic.Bool
	cmu        sync.Mutex // collected, and turning collecting off
	collected  []*ring.Request

	// wmu is the sending side's: bw, out, hdrs, vec, and sock's writes.
	wmu  sync.Mutex
	sock *rawsock.Writer // under bw before TLS; sendNow's while plain
	hdrs []byte          // sendNow's reply headers, back to back
	vec  [][]byte        // sendNow's vector: headers and payloads

	// batch collects the requests one socket read brought; the
	// reader's.
	batch *ring.Batch
	// idle spins for the next request at queue depth 1; the reader's,
	// nil if it never spins.
	idle *idlepoll.Waiter

	hdr [wire.RequestSize]byte // reader's scratch
	out [64]byte               // writer's scratch
}

// maxBatch bounds the requests submitted in one batch.
const maxBatch = 32

func newConn(s *Server, nc net.Conn, needTLS bool) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	r, w := rawsock.IO(nc)
	return &conn{
		srv: s, raw: nc, needTLS: needTLS,
		log:  s.log.With("remote", nc.RemoteAddr().String()),
		br:   bufio.NewReaderSize(r, 64<<10),
		bw:   bufio.NewWriterSize(w, 64<<10),
		sock: w,
		ctx:  ctx, cancel: cancel,
		closed: make(chan struct{}),
	}
}

// serve runs the connection to its end: handshake, then requests until
// the client disconnects, breaks the protocol, or the server drains it.
func (c *conn) serve() {
	defer close(c.closed)
	defer c.cancel()
	defer c.raw.Close()
	// A connection ServeNegotiated gave its export has nothing to
	// negotiate.
	if c.exp == nil {
		if err := c.handshake(); err != nil {
			c.log.Debug("nbd negotiation ended", "err", err)
			return
		}
	}
	c.negotiated()
	c.log.Debug("nbd connected", "structured", c.structured, "flags", c.flags)
	slots := c.exp.Ring().Cap()
	c.replies = make(chan *ring.Request, slots)
	c.collected = make([]*ring.Request, 0, slots)
	c.hdrs = make([]byte, 0, slots*len(c.out))
	c.vec = make([][]byte, 0, 2*slots+1)
	c.batch = NewBatch(c.exp, maxBatch)
	if sc, ok := c.raw.(syscall.Conn); ok && !c.tls {
		c.idle = idlepoll.NewWaiter(sc, c.srv.opts.IdlePoll)
	}
	written := make(chan struct{})
	go func() {
		defer close(written)
		c.writeLoop()
	}()
	err := c.readLoop()
	c.inflight.Wait()
	close(c.replies)
	<-written
	switch {
	case err == nil, errors.Is(err, io.EOF), c.draining.Load():
		c.log.Debug("nbd disconnected")
	case errors.Is(err, io.ErrUnexpectedEOF):
		c.log.Info("nbd client vanished mid-request")
	default:
		c.log.Warn("nbd connection closed", "err", err)
	}
}

// drain stops reading requests; those in flight are answered, then the
// connection closes.
func (c *conn) drain() {
	c.draining.Store(true)
	c.raw.SetReadDeadline(time.Now())
	c.raw.SetWriteDeadline(time.Now().Add(drainTimeout))
}

// abort closes the connection at once; requests in flight still complete
// (their slots go back to the ring), their replies are dropped.
func (c *conn) abort() {
	c.draining.Store(true)
	c.cancel()
	c.raw.Close()
}

// Complete is called once per slot, by the Export or by the reader for
// requests answered without it. While the reader collects, the reply
// waits for it (see collecting). Otherwise the last of the connection's
// requests in flight is answered on the completing goroutine when it
// can be: a client waiting for it (at queue depth 1, every time) then
// sees no wake-up of the writer goroutine. Others go to the writer,
// which sends what completes together in one write.
func (c *conn) Complete(req *ring.Request) {
	if req.Op == ring.BlockStatus && req.Err == nil {
		c.blockStatus(req)
	}
	last := c.pending.Add(-1) == 0
	if c.collecting.Load() {
		c.cmu.Lock()
		if c.collecting.Load() {
			c.collected = append(c.collected, req)
			c.cmu.Unlock()
			return
		}
		c.cmu.Unlock()
	}
	if last && c.sendNow(req) {
		return
	}
	c.toWriter(req)
}

// toWriter hands req's reply to the writer.
func (c *conn) toWriter(req *ring.Request) {
	c.queued.Add(1)
	c.replies <- req
}

// submit submits the batch and sends the replies collected since the
// reader's last wait: called wherever the reader may wait next, for the
// socket or a slot (the collected replies hold slots).
func (c *conn) submit() {
	c.batch.Submit()
	c.cmu.Lock()
	defer c.cmu.Unlock()
	c.collecting.Store(false)
	if len(c.collected) == 0 {
		return
	}
	if !c.sendNow(c.collected...) {
		for _, req := range c.collected {
			c.toWriter(req)
		}
	}
	clear(c.collected)
	c.collected = c.collected[:0]
}

// readLoop reads requests into ring slots and submits them: those a
// socket read brought together in one batch, submitted before the
// reader may block (on the socket or for a slot), so that no request
// waits for the next one.
func (c *conn) readLoop() error {
	defer c.submit()
	for {
		idle := false
		if c.br.Buffered() < wire.RequestSize {
			c.submit()
			// Nothing in flight: the client's next request is what
			// comes next, soon at queue depth 1: worth spinning for.
			if idle = c.pending.Load() == 0; idle {
				c.idle.Before()
			}
		}
		_, err := io.ReadFull(c.br, c.hdr[:])
		if idle {
			c.idle.After()
		}
		if err != nil {
			return err
		}
		c.collecting.Store(true)
		var r wire.Request
		if !r.Parse(&c.hdr) {
			return errBadMagic
		}
		if r.Type == wire.CmdDisc {
			return nil
		}
		req, err := c.slot()
		if err != nil {
			return err
		}
		c.inflight.Add(1)
		c.pending.Add(1)
		req.Owner, req.Cookie = c, r.Cookie
		req.Offset, req.Length = int64(r.Offset), int64(r.Length)
		errno := c.check(&r)
		if r.Type == wire.CmdWrite {
			if c.br.Buffered() < int(r.Length) {
				c.submit()
			}
			if err := c.readPayload(req, &r, errno == 0); err != nil {
				// The client vanished mid-request: nothing to answer.
				c.exp.Ring().Put(req)
				c.pending.Add(-1)
				c.inflight.Done()
				return err
			}
		}
		if errno != 0 {
			c.batch.Submit() // answered after those before it, as without batches
			req.Err = errno
			c.Complete(req)
			continue
		}
		switch r.Type {
		case wire.CmdRead:
			req.Op = ring.Read
			req.Data(int(r.Length))
		case wire.CmdWrite:
			req.Op = ring.Write
		case wire.CmdFlush:
			req.Op = ring.Flush
		case wire.CmdTrim:
			req.Op = ring.Trim
		case wire.CmdWriteZeroes:
			req.Op = ring.WriteZeroes
			if r.Flags&wire.CmdFlagNoHole != 0 {
				req.Flags |= ring.NoHole
			}
			if r.Flags&wire.CmdFlagFastZero != 0 {
				req.Flags |= ring.FastZero
			}
		case wire.CmdCache:
			req.Op = ring.Cache
		case wire.CmdBlockStatus:
			req.Op = ring.BlockStatus
			if r.Flags&wire.CmdFlagReqOne != 0 {
				req.Flags |= ring.OneExtent
			}
		}
		if r.Flags&wire.CmdFlagFUA != 0 {
			req.Flags |= ring.FUA
		}
		c.batch.Add(req)
	}
}

// slot takes a free ring slot; before waiting for one, it submits the
// batch, whose completions may be what frees it.
func (c *conn) slot() (*ring.Request, error) {
	rg := c.exp.Ring()
	if req := rg.TryGet(); req != nil {
		return req, nil
	}
	c.submit()
	return rg.Get(c.ctx)
}

// readPayload reads a write's data into the slot, or past it when the
// request is refused, so the next header is read where it starts.
func (c *conn) readPayload(req *ring.Request, r *wire.Request, keep bool) error {
	if keep {
		_, err := io.ReadFull(c.br, req.Data(int(r.Length)))
		return err
	}
	_, err := io.CopyN(io.Discard, c.br, int64(r.Length))
	return err
}
