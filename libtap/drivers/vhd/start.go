package vhd

import (
	"fmt"

	"gotap.dev/libtap/drivers/fileio"
	"gotap.dev/libtap/uring"
	"gotap.dev/libvhd"
)

// op is a read or write started with StartV: one per Call of the disk's
// queue, made at open, so starting one allocates nothing.
type op struct {
	d     *Disk
	f     *file
	write bool
	w     libvhd.MappedWrite // a write's, for WriteDone
	bufs  [][]byte
	off   int64 // in f
	done  func(error)
}

// StartV starts a read or write on the disk's io_uring without waiting,
// where the leaf's file holds the bytes in one piece: a read libvhd's
// MapRead places (a full block, or sectors its bitmap holds), a write
// MapWrite does (whole sectors of an allocated block whose bitmap costs
// no device I/O to update; the bits are set on completion, before done).
// done hears of the outcome on the goroutine that reaps the completion,
// and no goroutine waits for the I/O. It returns false, having started
// nothing, for anything else (a parent's data or zeros, a new block, a
// bitmap written around the page cache, no io_uring or no free entry);
// the scheduler then calls ReadV or WriteV. bufs stay the disk's until
// done. FUA is the VBD's flush after the write (Caps).
func (d *Disk) StartV(write bool, bufs [][]byte, off int64, _, _ bool, done func(error)) bool {
	q := d.fs.q
	if q == nil || (write && !d.fs.isDirect()) {
		// A buffered write through io_uring goes to an io-wq thread (see
		// file): WriteV's pwrite is cheaper.
		return false
	}
	n := int64(0)
	for _, b := range bufs {
		// A file's offset of the bytes is the disk's plus whole sectors,
		// so their alignment is the disk offset's.
		if d.fs.direct && !aligned(b, off+n) {
			return false
		}
		n += int64(len(b))
	}
	c := q.TryGet()
	if c == nil {
		return false
	}
	o := &d.ops[c.ID()]
	var lf libvhd.File
	var ok bool
	if write {
		o.w, ok = d.im.MapWrite(off, n)
		lf, o.off = o.w.File, o.w.Off
	} else {
		lf, o.off, ok = d.im.MapRead(off, n)
	}
	if !ok {
		q.Put(c)
		return false
	}
	o.write, o.bufs, o.done = write, bufs, done
	if o.f, ok = lf.(*file); !ok { // every file of the chain is d.fs's
		o.finish(c, fmt.Errorf("vhd: %T is not the driver's file", lf))
		return true
	}
	o.start(c)
	return true
}

// Unplug: StartV holds nothing back.
func (d *Disk) Unplug() {}

// start submits the op's remaining transfer on c.
func (o *op) start(c *uring.Call) {
	fileio.Prep(o.d.fs.q, c, o.f.fd, o.write, o.bufs, o.off, 0)
	if err := o.d.fs.q.Start(c, o); err != nil {
		o.finish(c, err)
	}
}

// Completed continues a short transfer, as readFull and writeFull do, or
// ends the op. A read past the end of the file (a truncated image) leaves
// zeros, as libvhd's reads do.
func (o *op) Completed(c *uring.Call, res int32) {
	err := fileio.Result(o.write, o.off, res)
	if err == nil && res > 0 {
		if o.bufs, o.off = fileio.Advance(o.bufs, int(res)), o.off+int64(res); len(o.bufs) > 0 {
			c.SQE().Reset()
			o.start(c)
			return
		}
	}
	if err == nil && res == 0 && !o.write {
		for _, b := range o.bufs {
			clear(b)
		}
	}
	if err != nil {
		verb := "read"
		if o.write {
			verb = "write"
		}
		err = o.f.pathErr(verb, err)
	}
	o.finish(c, err)
}

// finish tells libvhd the I/O it allowed is over (a write's bitmap bits
// are set then), then the scheduler.
func (o *op) finish(c *uring.Call, err error) {
	d, write, w, done := o.d, o.write, o.w, o.done
	*o = op{d: d}
	d.fs.q.Put(c)
	if !write {
		d.im.ReadDone(err)
		done(err)
		return
	}
	if ok, err := d.im.TryWriteDone(w, err); ok {
		done(errno(err))
		return
	}
	// The image's lock is taken, maybe by a goroutine waiting for this
	// one to reap its I/O: the bits are set elsewhere.
	d.lateWrites <- lateWrite{w, err, done}
}

// lateWrite is a write whose bitmap bits wait for the image's lock.
type lateWrite struct {
	w    libvhd.MappedWrite
	err  error
	done func(error)
}

// setLateBits sets the bits of late writes, then answers them.
func (d *Disk) setLateBits() {
	defer close(d.lateDone)
	for lw := range d.lateWrites {
		lw.done(errno(d.im.WriteDone(lw.w, lw.err)))
	}
}
