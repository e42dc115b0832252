package aio

import (
	"golang.org/x/sys/unix"

	"gotap.dev/libtap/drivers/fileio"
	"gotap.dev/libtap/uring"
)

// ringWrites tells whether writes go through io_uring: with O_DIRECT
// only. A buffered write is a copy into the page cache, which ext4 cannot
// promise not to block (no IOCB_NOWAIT for buffered writes), so io_uring
// hands every one to an io-wq thread (perf: io_uring_queue_async_work
// for 6750 of 6750 writes a second): a thread hop that made 4 KiB writes
// at QD1 3× slower (p50 71 µs, against 22 µs for pwritev2).
func (d *Disk) ringWrites() bool { return d.q != nil && d.direct }

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
		fileio.Prep(d.q, c, d.fd, write, bufs, off, op.flags)
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
	fileio.Prep(op.d.q, c, op.d.fd, op.write, op.bufs, op.off, op.flags)
	if err := op.d.q.Start(c, op); err != nil {
		op.finish(c, err)
	}
}

// Completed continues a short transfer, as the syscall path does, or
// ends the op.
func (op *asyncOp) Completed(c *uring.Call, res int32) {
	err := fileio.Result(op.write, op.off, res)
	if err == nil && res > 0 {
		if op.bufs, op.off = fileio.Advance(op.bufs, int(res)), op.off+int64(res); len(op.bufs) > 0 {
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
