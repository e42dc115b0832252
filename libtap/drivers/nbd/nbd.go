// Package nbd is the `nbd:` driver: an image served by an NBD server,
// read and written through one client connection. `nbd:unix:/run/x.sock`
// connects to a Unix socket, `nbd:HOST:PORT` over TCP. The size and the
// capabilities come from the server's handshake; the allocation map from
// its base:allocation block status when offered (else all data).
//
// Requests go one at a time (a mutex around the connection): simple and
// obviously correct; the scheduler above still merges adjacent I/O.
//
// The server is not trusted: a reply is checked against the protocol
// before it counts (chunk.go), and a read succeeds only when its chunks
// covered every byte exactly once (coverage.go). A reply that breaks the
// protocol fails the request, and every later one, with EIO: what else
// the server sends cannot be trusted either (a Resume reconnects).
//
// A server that stops answering must not hang the disk: connecting and
// the handshake have a deadline, and so does every request's round trip;
// past it the connection is given up and this request and every later
// one fail with EIO (a Resume reconnects).
package nbd

import (
	"bufio"
	"fmt"
	"net"
	"strings"
	"sync"
	"syscall"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/nbd/wire"
)

// Options for Dial; zero durations take the defaults.
type Options struct {
	ReadOnly bool
	// OpenTimeout bounds connecting and the handshake (default 10 s).
	OpenTimeout time.Duration
	// IOTimeout bounds each request's round trip (default 60 s): a
	// server silent that long is taken for gone.
	IOTimeout time.Duration
	// Export names the export to open ("": the server's default).
	Export string
}

func (o *Options) defaults() {
	if o.OpenTimeout <= 0 {
		o.OpenTimeout = 10 * time.Second
	}
	if o.IOTimeout <= 0 {
		o.IOTimeout = 60 * time.Second
	}
}

// Disk is an open NBD export.
type Disk struct {
	addr      string
	export    string
	ro        bool
	ioTimeout time.Duration

	// Learnt in the handshake.
	size       int64
	flags      uint16
	structured bool
	allocation bool   // base:allocation selected
	allocID    uint32 // its context id
	maxReq     int64  // largest request length the server accepts

	mu     sync.Mutex // one request at a time; guards below
	nc     net.Conn
	br     *bufio.Reader
	bw     *bufio.Writer
	cookie uint64
	cov    coverage // what the chunks of the read in flight covered
	broken error    // the connection failed: every later request fails
	// scratch holds each header sent or read: a local array would
	// escape to the heap through io.Reader, once per request.
	scratch [wire.RequestSize]byte
}

// Open connects to the export at addr: "unix:PATH" or "HOST:PORT", with
// the default timeouts.
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
	nc, err := (&net.Dialer{Deadline: deadline}).Dial(network, where)
	if err != nil {
		return nil, fmt.Errorf("nbd: %w", err)
	}
	d := &Disk{
		addr: addr, export: opts.Export, ro: opts.ReadOnly, ioTimeout: opts.IOTimeout,
		nc: nc, br: bufio.NewReader(nc), bw: bufio.NewWriter(nc), maxReq: wire.MaxBlock,
	}
	nc.SetDeadline(deadline) // the handshake's; each round trip sets its own
	if err := d.handshake(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("nbd: %s: %w", addr, err)
	}
	return d, nil
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
			return d.roundTrip(&call{typ: wire.CmdRead, off: o, n: n, in: b[o-off : o-off+n]})
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
			return d.roundTrip(&call{typ: wire.CmdWrite, flags: flags, off: o, n: n, out: b[o-off : o-off+n]})
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
	return d.roundTrip(&call{typ: wire.CmdFlush})
}

// Trim is advisory: without server support it does nothing.
func (d *Disk) Trim(off, n int64) error {
	if !d.can(wire.FlagSendTrim) {
		return nil
	}
	return d.chunked(off, n, func(o, n int64) error {
		return d.roundTrip(&call{typ: wire.CmdTrim, off: o, n: n})
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
			return d.roundTrip(&call{typ: wire.CmdWrite, off: o, n: n, out: zeros[:n]})
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
		return d.roundTrip(&call{typ: wire.CmdWriteZeroes, flags: flags, off: o, n: n})
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
		if err := d.roundTrip(&c); err != nil {
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

// Close says goodbye to the server and closes the connection.
func (d *Disk) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.broken == nil {
		d.nc.SetDeadline(time.Now().Add(d.ioTimeout))
		d.bw.Write(wire.Request{Type: wire.CmdDisc}.Append(d.scratch[:0]))
		d.bw.Flush()
		d.broken = net.ErrClosed
	}
	return d.nc.Close()
}
