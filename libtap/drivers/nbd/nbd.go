// Package nbd is the `nbd:` driver: an image served by an NBD server.
// `nbd:unix:/run/x.sock` connects to a Unix socket, `nbd:HOST:PORT` over
// TCP. The size and the capabilities come from the server's handshake;
// the allocation map from its base:allocation block status when offered
// (else all data).
//
// Requests are pipelined: callers (the scheduler's workers, up to 32 at
// once) each send theirs and wait in a slot of the connection, and one
// reader per connection matches the replies, in whatever order they
// come, to the slots by cookie. A server that advertises
// NBD_FLAG_CAN_MULTI_CONN gets several connections, each request going to
// the least loaded: such a server promises that a flush on any one of
// them makes the writes completed on all of them durable, so one flush
// is enough.
//
// The server is not trusted: a reply is checked against the protocol
// before it counts (chunk.go), and a read succeeds only when its chunks
// covered every byte exactly once (coverage.go). A reply that breaks the
// protocol fails its request, those in flight, and every later one with
// EIO: what else the server sends cannot be trusted either (a Resume
// reconnects).
//
// A server that stops answering must not hang the disk: connecting and
// the handshake have a deadline, and every request's round trip has one
// too (watchdog.go); past it the connections are given up and every
// request in flight and later fails with EIO (a Resume reconnects).
package nbd

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/nbd/wire"
)

// Options for Dial; zero values take the defaults.
type Options struct {
	ReadOnly bool
	// OpenTimeout bounds connecting and the handshake (default 10 s).
	OpenTimeout time.Duration
	// IOTimeout bounds each request's round trip (default 60 s): a
	// server silent that long is taken for gone.
	IOTimeout time.Duration
	// Export names the export to open ("": the server's default).
	Export string
	// Conns is how many connections to open to a server that allows
	// several (NBD_FLAG_CAN_MULTI_CONN); default DefaultConns. Without
	// the flag, one; fewer when the server refuses more.
	Conns int
}

// DefaultConns is the connections opened to a multi-conn server by
// default.
const DefaultConns = 2

func (o *Options) defaults() {
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = 10 * time.Second
	}
	if o.IOTimeout <= 0 {
		o.IOTimeout = 60 * time.Second
	}
	if o.Conns <= 0 {
		o.Conns = DefaultConns
	}
}

// Disk is an open NBD export.
type Disk struct {
	addr      string
	export    string
	ro        bool
	ioTimeout time.Duration
	info      // learnt in the first connection's handshake

	conns []*conn
	next  atomic.Uint32 // where the search for the least loaded starts
	epoch atomic.Uint32 // the watchdog's ticks
	stop  chan struct{} // ends the watchdog
	once  sync.Once     // Close's
}

// Open connects to the export at addr: "unix:PATH" or "HOST:PORT", with
// the default options.
func Open(addr string, readOnly bool) (*Disk, error) {
	return Dial(addr, Options{ReadOnly: readOnly})
}

// Dial is Open with options.
func Dial(addr string, opts Options) (*Disk, error) {
	opts.defaults()
	network, where := "tcp", addr
	if p, ok := strings.CutPrefix(addr, "unix:"); ok {
		network, where = "unix", p
	}
	deadline := time.Now().Add(opts.OpenTimeout)
	d := &Disk{addr: addr, export: opts.Export, ro: opts.ReadOnly, ioTimeout: opts.IOTimeout, stop: make(chan struct{})}
	first, err := dialConn(d, network, where, deadline)
	if err != nil {
		return nil, fmt.Errorf("nbd: %s: %w", addr, err)
	}
	d.info, d.conns = first.info, []*conn{first}
	if d.can(wire.FlagCanMultiConn) {
		d.conns = append(d.conns, d.moreConns(network, where, deadline, opts.Conns-1)...)
	}
	for _, c := range d.conns {
		go c.readLoop()
	}
	go d.watchdog()
	return d, nil
}

// moreConns opens up to n more connections, as many as the server lets
// it within the open deadline: one it refuses, or that negotiates
// otherwise than the first, only means fewer.
func (d *Disk) moreConns(network, where string, deadline time.Time, n int) []*conn {
	var conns []*conn
	for range n {
		c, err := dialConn(d, network, where, deadline)
		if err != nil {
			break
		}
		if c.info != d.info {
			c.nc.Close()
			break
		}
		conns = append(conns, c)
	}
	return conns
}

// fail gives up every connection: one broke (err), and the server's
// word on the others cannot be trusted either.
func (d *Disk) fail(err error) {
	for _, c := range d.conns {
		c.shut(err)
	}
}

// eio is the error of a request the broken connection failed.
func (d *Disk) eio(cause error) error {
	return fmt.Errorf("nbd: %s: %w (%w)", d.addr, syscall.EIO, cause)
}

// do sends r on the least loaded connection and waits for its reply: the
// server's errno, or EIO when the connection broke. Block status results
// come back in r.
func (d *Disk) do(r *call) error {
	return d.doOn(d.pick(), r)
}

// doOn is do on connection c.
func (d *Disk) doOn(c *conn, r *call) error {
	c.load.Add(1)
	defer c.load.Add(-1)
	i := <-c.free
	cookie, err := c.register(i, r, nil)
	if err != nil {
		c.free <- i
		return err
	}
	c.send(cookie, r, false)
	s := &c.slots[i]
	err = <-s.done
	r.ext, r.described = s.call.ext, s.call.described
	s.call.ext = nil
	c.free <- i
	return err
}

// pick returns the connection with the fewest requests, the search
// starting one further each time so that ties take turns.
func (d *Disk) pick() *conn {
	if len(d.conns) == 1 {
		return d.conns[0]
	}
	n := uint32(len(d.conns))
	start := d.next.Add(1)
	best := d.conns[start%n]
	for k := uint32(1); k < n; k++ {
		if c := d.conns[(start+k)%n]; c.load.Load() < best.load.Load() {
			best = c
		}
	}
	return best
}

func (d *Disk) Size() int64 { return d.size }

func (d *Disk) can(flag uint16) bool { return d.flags&flag != 0 }

// Caps are what the server offers: without its FUA, the VBD flushes
// after the write; without its write-zeroes, WriteZeroes writes zeros.
func (d *Disk) Caps() disk.Caps {
	c := disk.Caps{
		ReadOnly: d.ro || d.can(wire.FlagReadOnly),
		FUA:      disk.Emulated,
		Trim:     disk.NativeIf(d.can(wire.FlagSendTrim)),
		Zero:     disk.Emulated,
		FastZero: disk.NativeIf(d.can(wire.FlagSendFastZero)),
	}
	if d.can(wire.FlagSendFUA) {
		c.FUA = disk.Native
	}
	if d.can(wire.FlagSendWriteZeroes) {
		c.Zero = disk.Native
	}
	return c
}

func (d *Disk) ReadV(bufs [][]byte, off int64) error {
	for _, b := range bufs {
		if err := d.chunked(off, int64(len(b)), func(o, n int64) error {
			return d.do(&call{typ: wire.CmdRead, off: o, n: n, in: b[o-off : o-off+n]})
		}); err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}

// WriteV writes each buffer; fua (asked only when the server takes it)
// is sent with each request.
func (d *Disk) WriteV(bufs [][]byte, off int64, fua bool) error {
	var flags uint16
	if fua {
		flags = wire.CmdFlagFUA
	}
	for _, b := range bufs {
		if err := d.chunked(off, int64(len(b)), func(o, n int64) error {
			return d.do(&call{typ: wire.CmdWrite, flags: flags, off: o, n: n, out: b[o-off : o-off+n]})
		}); err != nil {
			return err
		}
		off += int64(len(b))
	}
	return nil
}

// Flush asks the server to make completed writes durable; a server that
// offers no flush has nothing to flush.
func (d *Disk) Flush() error {
	if !d.can(wire.FlagSendFlush) {
		return nil
	}
	return d.do(&call{typ: wire.CmdFlush})
}

// Trim is advisory: without server support it does nothing.
func (d *Disk) Trim(off, n int64) error {
	if !d.can(wire.FlagSendTrim) {
		return nil
	}
	return d.chunked(off, n, func(o, n int64) error {
		return d.do(&call{typ: wire.CmdTrim, off: o, n: n})
	})
}

// WriteZeroes uses the server's write-zeroes, or writes zeros itself
// (refused with ENOTSUP when fastZero asks).
func (d *Disk) WriteZeroes(off, n int64, noHole, fastZero bool) error {
	if !d.can(wire.FlagSendWriteZeroes) || (fastZero && !d.can(wire.FlagSendFastZero)) {
		if fastZero {
			return disk.ErrNotSupp
		}
		zeros := make([]byte, min(n, d.maxReq))
		return d.chunked(off, n, func(o, n int64) error {
			return d.do(&call{typ: wire.CmdWrite, off: o, n: n, out: zeros[:n]})
		})
	}
	var flags uint16
	if noHole {
		flags |= wire.CmdFlagNoHole
	}
	if fastZero {
		flags |= wire.CmdFlagFastZero
	}
	return d.chunked(off, n, func(o, n int64) error {
		return d.do(&call{typ: wire.CmdWriteZeroes, flags: flags, off: o, n: n})
	})
}

// Extents asks the server's block status, or reports all data when the
// server has none.
func (d *Disk) Extents(dst []disk.Extent, off, n int64) ([]disk.Extent, error) {
	end := off + n
	if !d.allocation {
		return disk.AppendExtent(dst, disk.Extent{Offset: off, Length: n}), nil
	}
	for off < end {
		c := call{typ: wire.CmdBlockStatus, off: off, n: min(end-off, d.maxReq), ext: dst}
		if err := d.do(&c); err != nil {
			return dst, err
		}
		if c.described == 0 {
			return dst, fmt.Errorf("nbd: %s: empty block status at %d: %w", d.addr, off, syscall.EIO)
		}
		dst, off = c.ext, off+c.described
	}
	return dst, nil
}

// chunked calls fn over [off, off+n) in pieces the server accepts.
func (d *Disk) chunked(off, n int64, fn func(off, n int64) error) error {
	for n > 0 {
		c := min(n, d.maxReq)
		if err := fn(off, c); err != nil {
			return err
		}
		off, n = off+c, n-c
	}
	return nil
}

// Close says goodbye to the server on every connection and closes them;
// requests still in flight fail.
func (d *Disk) Close() error {
	d.once.Do(func() {
		close(d.stop)
		for _, c := range d.conns {
			c.goodbye(d.ioTimeout)
		}
		d.fail(net.ErrClosed)
		for _, c := range d.conns {
			<-c.readerDone
		}
	})
	return nil
}
