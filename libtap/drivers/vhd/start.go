package vhd

import (
	"gotap.dev/libtap/drivers/fileio"
	"gotap.dev/libtap/uring"
)

// readOp is a read started with StartV: one per Call of the disk's
// queue, made at open, so starting one allocates nothing.
type readOp struct {
	d    *Disk
	f    *file
	bufs [][]byte
	off  int64 // in f
	done func(error)
}

// StartV starts a read whose bytes the leaf's file holds in one piece
// (libvhd's MapRead: a full block, or sectors its bitmap holds) on the
// disk's io_uring without waiting: done hears of the outcome on the
// goroutine that reaps the completion, and no goroutine waits for the
// read. It returns false, having started nothing, for anything else
// (writes, which update bitmaps after their data; a parent's data or
// zeros; no io_uring or no free entry); the scheduler then calls ReadV
// or WriteV. bufs stay the disk's until done.
func (d *Disk) StartV(write bool, bufs [][]byte, off int64, _, _ bool, done func(error)) bool {
	q := d.fs.q
	if write || q == nil {
		return false
	}
	n := int64(0)
	for _, b := range bufs {
		n += int64(len(b))
	}
	lf, fileOff, ok := d.im.MapRead(off, n)
	if !ok {
		return false
	}
	f, ok := lf.(*file)
	if ok && f.direct {
		for _, b := range bufs {
			ok = ok && aligned(b, fileOff)
		}
	}
	var c *uring.Call
	if ok {
		c = q.TryGet()
	}
	if c == nil {
		d.im.ReadDone(nil)
		return false
	}
	op := &d.ops[c.ID()]
	op.f, op.bufs, op.off, op.done = f, bufs, fileOff, done
	op.start(c)
	return true
}

// Unplug: StartV holds nothing back.
func (d *Disk) Unplug() {}

// start submits the op's remaining transfer on c.
func (op *readOp) start(c *uring.Call) {
	fileio.Prep(op.d.fs.q, c, op.f.fd, false, op.bufs, op.off, 0)
	if err := op.d.fs.q.Start(c, op); err != nil {
		op.finish(c, err)
	}
}

// Completed continues a short read, as readFull does, or ends the op. A
// read past the end of the file (a truncated image) leaves zeros, as
// libvhd's reads do.
func (op *readOp) Completed(c *uring.Call, res int32) {
	err := fileio.Result(false, op.off, res)
	if err == nil && res > 0 {
		if op.bufs, op.off = fileio.Advance(op.bufs, int(res)), op.off+int64(res); len(op.bufs) > 0 {
			c.SQE().Reset()
			op.start(c)
			return
		}
	}
	if err == nil && res == 0 {
		for _, b := range op.bufs {
			clear(b)
		}
	}
	if err != nil {
		err = op.f.pathErr("read", err)
	}
	op.finish(c, err)
}

func (op *readOp) finish(c *uring.Call, err error) {
	done := op.done
	op.bufs, op.done = nil, nil
	op.d.fs.q.Put(c)
	op.d.im.ReadDone(err)
	done(err)
}
