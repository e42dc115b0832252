package aio

import (
	"fmt"
	"log/slog"
	"os"
	"sync"
	"syscall"

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

// ringIO reads or writes the vector through the queue, resuming after
// short transfers as the syscall path does; flags are the entry's
// rw_flags (RWF_DSYNC for FUA). A buffer inside the registered memory
// goes as a fixed read or write, sparing the kernel its page pinning.
func (d *Disk) ringIO(write bool, bufs [][]byte, off int64, flags uint32) error {
	one, fixed, vec := uring.OpRead, uring.OpReadFixed, uring.OpReadv
	if write {
		one, fixed, vec = uring.OpWrite, uring.OpWriteFixed, uring.OpWritev
	}
	for len(bufs) > 0 {
		c := d.q.Get()
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
		res, err := d.q.Run(c)
		d.q.Put(c)
		switch {
		case err != nil:
			return err
		case res < 0:
			return syscall.Errno(-res)
		case res == 0 && write:
			return fmt.Errorf("aio: write at %d moved no byte: %w", off, syscall.EIO)
		case res == 0:
			for _, b := range bufs {
				clear(b)
			}
			return nil
		}
		bufs, off = advance(bufs, int(res)), off+int64(res)
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
