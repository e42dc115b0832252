package fileio

import (
	"fmt"
	"syscall"

	"gotap.dev/libtap/uring"
)

// RingIO reads or writes the vector at off on fd through q, resuming
// after short transfers; flags are the entry's rw_flags (RWF_DSYNC for
// FUA). A read past the end of the file leaves zeros in the rest of the
// vector.
func RingIO(q *uring.Queue, fd int, write bool, bufs [][]byte, off int64, flags uint32) error {
	for len(bufs) > 0 {
		c := q.Get()
		Prep(q, c, fd, write, bufs, off, flags)
		res, err := q.Run(c)
		q.Put(c)
		if err == nil {
			err = Result(write, off, res)
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
		bufs, off = Advance(bufs, int(res)), off+int64(res)
	}
	return nil
}

// RingOnce reads or writes b at off on fd through q, once: the count
// moved (0 at the end of the file) or the error.
func RingOnce(q *uring.Queue, fd int, write bool, b []byte, off int64) (int, error) {
	c := q.Get()
	PrepOne(q, c, fd, write, b, off, 0)
	res, err := q.Run(c)
	q.Put(c)
	if err == nil {
		err = Result(write, off, res)
	}
	if err != nil {
		return 0, err
	}
	return int(res), nil
}

// Prep fills c's entry for the transfer of a vector.
func Prep(q *uring.Queue, c *uring.Call, fd int, write bool, bufs [][]byte, off int64, flags uint32) {
	if len(bufs) == 1 {
		PrepOne(q, c, fd, write, bufs[0], off, flags)
		return
	}
	op := uring.OpReadv
	if write {
		op = uring.OpWritev
	}
	c.SQE().PrepVec(op, fd, c.Iovecs(bufs), off)
	c.SQE().OpFlags = flags
}

// PrepOne fills c's entry for the transfer of one buffer. A buffer inside
// q's registered memory goes as a fixed read or write, sparing the
// kernel its page pinning. The entry's fields are set whatever a
// previous use of c left in them.
func PrepOne(q *uring.Queue, c *uring.Call, fd int, write bool, b []byte, off int64, flags uint32) {
	one, fixed := uring.OpRead, uring.OpReadFixed
	if write {
		one, fixed = uring.OpWrite, uring.OpWriteFixed
	}
	e := c.SQE()
	if q.Fixed(b) {
		e.PrepFixed(fixed, fd, b, off, 0)
	} else {
		e.PrepBuf(one, fd, b, off)
	}
	e.OpFlags = flags
}

// Result is a transfer's error: a negative result's errno, or EIO for a
// write that moved nothing (it would be retried forever).
func Result(write bool, off int64, res int32) error {
	switch {
	case res < 0:
		return syscall.Errno(-res)
	case res == 0 && write:
		return fmt.Errorf("write at %d moved no byte: %w", off, syscall.EIO)
	}
	return nil
}

// Flush makes fd's written data durable (fdatasync) through q.
func Flush(q *uring.Queue, fd int) error {
	c := q.Get()
	c.SQE().PrepFsync(fd, uring.FsyncDatasync)
	res, err := q.Run(c)
	q.Put(c)
	if err == nil && res < 0 {
		err = syscall.Errno(-res)
	}
	return err
}

// Advance drops n bytes from the front of a vector. It reslices the
// caller's slice in place, so it allocates nothing.
func Advance(bufs [][]byte, n int) [][]byte {
	for len(bufs) > 0 && n >= len(bufs[0]) {
		n -= len(bufs[0])
		bufs = bufs[1:]
	}
	if n > 0 {
		bufs[0] = bufs[0][n:]
	}
	return bufs
}
