package aio

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"gotap.dev/libtap/uring"
)

// EnvNoIOURing set to 1 makes aio use the syscall path even where
// io_uring works (tests keep that path tested with it).
const EnvNoIOURing = "GOTAP_NO_IO_URING"

// Engines, as Caps().Engine names them.
const (
	EngineIOURing  = "io_uring"
	EngineSyscalls = "syscalls"
)

// queueEntries bounds the operations one disk has in the kernel at once:
// above the scheduler's default depth (32), so that its workers never
// wait for an entry.
const queueEntries = 128

// ops are what the io_uring path issues.
var ops = []uint8{uring.OpRead, uring.OpWrite, uring.OpReadFixed, uring.OpWriteFixed, uring.OpReadv, uring.OpWritev, uring.OpFsync}

// newQueue sets up a disk's io_uring, registering buffers (the VBD
// ring's slots) as fixed buffers; nil where io_uring is unavailable or
// turned off, the syscall path then serving. Why it is unavailable is
// logged once per process.
func newQueue(buffers []byte) *uring.Queue {
	if os.Getenv(EnvNoIOURing) == "1" {
		return nil
	}
	q, err := uring.NewQueue(queueEntries, buffers)
	if err == nil {
		if err = q.Supported(ops...); err != nil {
			q.Close()
		}
	}
	if err != nil {
		unavailable.Do(func() {
			slog.Warn("aio: io_uring unavailable, reads and writes go through syscalls", "err", err)
		})
		return nil
	}
	return q
}

var unavailable sync.Once

// ringWrites tells whether writes go through io_uring: with O_DIRECT
// only. A buffered write is a copy into the page cache, which ext4 cannot
// promise not to block (no IOCB_NOWAIT for buffered writes), so io_uring
// hands every one to an io-wq thread (perf: io_uring_queue_async_work
// for 6750 of 6750 writes a second): a thread hop that made 4 KiB writes
// at QD1 3× slower (p50 71 µs, against 22 µs for pwritev2).
func (d *Disk) ringWrites() bool { return d.q != nil && d.direct }

// ringIO reads or writes the vector through the queue, resuming after
// short transfers as the syscall path does; flags are the entry's
// rw_flags (RWF_DSYNC for FUA). A buffer inside the registered memory
// goes as a fixed read or write, sparing the kernel its page pinning.
func (d *Disk) ringIO(write bool, bufs [][]byte, off int64, flags uint32) error {
	for len(bufs) > 0 {
		c := d.q.Get()
		d.prep(c, write, bufs, off, flags)
		res, err := d.q.Run(c)
		d.q.Put(c)
		if err == nil {
			err = result(write, off, res)
		}
		switch {
		case err != nil:
			return err
		case res == 0: // a read past the end of the file
			for _, b := range bufs {
				clear(b)
			}
			return nil
		}
		bufs, off = advance(bufs, int(res)), off+int64(res)
	}
	return nil
}

// prep fills c's entry for the transfer.
func (d *Disk) prep(c *uring.Call, write bool, bufs [][]byte, off int64, flags uint32) {
	one, fixed, vec := uring.OpRead, uring.OpReadFixed, uring.OpReadv
	if write {
		one, fixed, vec = uring.OpWrite, uring.OpWriteFixed, uring.OpWritev
	}
	e := c.SQE()
	switch {
	case len(bufs) > 1:
		e.PrepVec(vec, d.fd, c.Iovecs(bufs), off)
	case d.q.Fixed(bufs[0]):
		e.PrepFixed(fixed, d.fd, bufs[0], off, 0)
	default:
		e.PrepBuf(one, d.fd, bufs[0], off)
	}
	e.OpFlags = flags
}

// result is a transfer's error: a negative result's errno, or EIO for a
// write that moved nothing (it would be retried forever).
func result(write bool, off int64, res int32) error {
	switch {
	case res < 0:
		return syscall.Errno(-res)
	case res == 0 && write:
		return fmt.Errorf("aio: write at %d moved no byte: %w", off, syscall.EIO)
	}
	return nil
}

func (d *Disk) ringFlush() error {
	c := d.q.Get()
	c.SQE().PrepFsync(d.fd, uring.FsyncDatasync)
	res, err := d.q.Run(c)
	d.q.Put(c)
	if err == nil && res < 0 {
		err = syscall.Errno(-res)
	}
	return err
}

// asyncOp is a read or write started with StartV: one per Call of the
// disk's queue, made at open, so starting one allocates nothing.
type asyncOp struct {
	d     *Disk
	write bool
	bufs  [][]byte
	off   int64
	flags uint32
	done  func(error)
}

// StartV starts reading (or writing) bufs at off without waiting: done
// is called with the outcome once all of it has moved, on the goroutine
// that reaps the completion. It returns false, having started nothing,
// when the disk has no io_uring or no free entry; the caller then uses
// ReadV or WriteV. bufs stay the disk's until done. With more, the entry
// waits in the submission queue for the next StartV without more, or
// Unplug, to enter the kernel with it.
func (d *Disk) StartV(write bool, bufs [][]byte, off int64, fua, more bool, done func(error)) bool {
	if d.q == nil {
		return false
	}
	if write && !d.ringWrites() {
		if fua {
			return false // a wait for the disk: a worker's
		}
		// A buffered write is a copy into the page cache: made here, it
		// costs less than the hand-offs to a worker and back.
		done(d.WriteV(bufs, off, false))
		return true
	}
	c := d.q.TryGet()
	if c == nil {
		return false
	}
	op := &d.ops[c.ID()]
	op.write, op.bufs, op.off, op.flags, op.done = write, bufs, off, 0, done
	if fua {
		op.flags = unix.RWF_DSYNC
	}
	if more {
		d.prep(c, write, bufs, off, op.flags)
		d.q.Enqueue(c, op)
		return true
	}
	op.start(c)
	return true
}

// Unplug starts what StartV held back.
func (d *Disk) Unplug() {
	if d.q != nil {
		d.q.Submit()
	}
}

// start submits the op's remaining transfer on c.
func (op *asyncOp) start(c *uring.Call) {
	op.d.prep(c, op.write, op.bufs, op.off, op.flags)
	if err := op.d.q.Start(c, op); err != nil {
		op.finish(c, err)
	}
}

// Completed continues a short transfer, as the syscall path does, or
// ends the op.
func (op *asyncOp) Completed(c *uring.Call, res int32) {
	err := result(op.write, op.off, res)
	if err == nil && res > 0 {
		if op.bufs, op.off = advance(op.bufs, int(res)), op.off+int64(res); len(op.bufs) > 0 {
			c.SQE().Reset()
			op.start(c)
			return
		}
	}
	if err == nil && res == 0 { // a read past the end of the file
		for _, b := range op.bufs {
			clear(b)
		}
	}
	op.finish(c, err)
}

func (op *asyncOp) finish(c *uring.Call, err error) {
	done := op.done
	op.bufs, op.done = nil, nil
	op.d.q.Put(c)
	done(err)
}
