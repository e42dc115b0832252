package vhd

import (
	"io"
	"os"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// pageCache writes bitmaps into the page cache through the image's
// second descriptor, the one without O_DIRECT, with raw pwrite(2) calls
// in a RawConn callback (which keeps the descriptor from being closed
// meanwhile). Through the runtime's syscall entry each write woke Go's
// sysmon thread from the sleep it takes while the process is idle, which
// at queue depth 1 with O_DIRECT it always is between requests (perf:
// all of tapdisk's futex calls, 2 a request, and 5.9 context switches a
// request against 2.7 without). The price of a raw call: while a write
// waits (a page read in, dirty-page throttling, the journal), the
// process's other goroutines wait with it instead of running on another
// thread. Most writes are made on the disk's io_uring reaper (a write's
// completion sets its bits), whose wait holds up the disk's completions
// either way.
type pageCache struct {
	f  *os.File
	rc syscall.RawConn
	// write is pwrite as a method value made once, and mu guards its
	// arguments and results: nothing is allocated per write.
	write func(fd uintptr) bool
	mu    sync.Mutex
	b     []byte
	off   int64
	n     int
	errno syscall.Errno
}

// newPageCache takes f, a descriptor of the image without O_DIRECT; nil
// if there is none.
func newPageCache(f *os.File) *pageCache {
	if f == nil {
		return nil
	}
	rc, err := f.SyscallConn()
	if err != nil {
		f.Close()
		return nil
	}
	p := &pageCache{f: f, rc: rc}
	p.write = p.pwrite
	return p
}

func (p *pageCache) WriteAt(b []byte, off int64) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.b, p.off, p.n, p.errno = b, off, 0, 0
	err := p.rc.Write(p.write)
	p.b = nil
	switch {
	case err != nil:
		err = os.ErrClosed // RawConn's only failure with a regular file
	case p.errno != 0:
		err = p.errno
	case p.n < len(b):
		return p.n, io.ErrShortWrite
	default:
		return p.n, nil
	}
	return p.n, &os.PathError{Op: "pwrite", Path: p.f.Name(), Err: err}
}

// pwrite writes what is left of b. It never asks to wait: a regular file
// is always ready.
func (p *pageCache) pwrite(fd uintptr) bool {
	for p.n < len(p.b) {
		r, _, e := unix.RawSyscall6(unix.SYS_PWRITE64, fd, uintptr(unsafe.Pointer(&p.b[p.n])), uintptr(len(p.b)-p.n), uintptr(p.off+int64(p.n)), 0, 0)
		switch {
		case e == unix.EINTR:
		case e != 0:
			p.errno = e
			return true
		case r == 0:
			return true
		default:
			p.n += int(r)
		}
	}
	return true
}

// Close closes the descriptor; nothing written through it is lost, the
// writes being in the page cache.
func (p *pageCache) Close() error { return p.f.Close() }
