// Package rawsock reads and writes a plain socket with raw system calls.
package rawsock

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"gotap.dev/libtap/internal/idlepoll"
)

// A socket is read and written with raw system calls made in RawConn
// callbacks, waiting in the netpoller as net.Conn does (deadlines
// included). Through the runtime's syscall entry, each read woke Go's
// sysmon thread from its sleep whenever the process had been idle: at
// queue depth 1, once a request, a futex wake and two context switches
// (perf, tapdisk's NBD server, O_DIRECT writes: all of its futex calls).
// A read or write of a non-blocking socket cannot block, so it needs
// none of what that entry is for. The callbacks are method values made
// once and their arguments and results fields, so nothing is allocated
// per call; each side must have one user at a time.

// IO returns the reader and writer of nc's bytes: raw ones where nc is a
// plain socket, nc itself where not (a wrapper's Read and Write may do
// more than the socket's).
func IO(nc net.Conn) (io.Reader, *Writer) {
	var sc syscall.Conn
	switch c := nc.(type) {
	case *net.UnixConn:
		sc = c
	case *net.TCPConn:
		sc = c
	default:
		return nc, &Writer{w: nc}
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return nc, &Writer{w: nc}
	}
	// What an idle spin must not keep waiting (another connection's
	// requests or replies): see idlepoll.
	idlepoll.Watch(sc)
	r := &reader{rc: rc}
	r.call = r.readFD
	w := &Writer{w: nc, rc: rc}
	w.write, w.writev = w.writeFD, w.writevFD
	return r, w
}

// reader reads a socket.
type reader struct {
	rc   syscall.RawConn
	call func(fd uintptr) bool
	p    []byte
	n    int
	err  syscall.Errno
}

func (r *reader) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	r.p = p
	err := r.rc.Read(r.call)
	r.p = nil
	switch {
	case err != nil:
		return 0, err // a deadline, or the socket closed
	case r.err != 0:
		return 0, os.NewSyscallError("read", r.err)
	case r.n == 0:
		return 0, io.EOF
	}
	return r.n, nil
}

// readFD reads once; false (EAGAIN) waits for the socket in the
// netpoller and calls again.
func (r *reader) readFD(fd uintptr) bool {
	for {
		n, _, e := unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&r.p[0])), uintptr(len(r.p)))
		switch e {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		}
		r.n, r.err = int(n), e
		return true
	}
}

// Writer writes a socket: Write waits for room as net.Conn's does,
// TryWritev never waits. Where the socket has no descriptor, Write is
// the connection's and TryWritev is unusable.
type Writer struct {
	w             io.Writer
	rc            syscall.RawConn
	write, writev func(fd uintptr) bool
	p             []byte
	iov           []unix.Iovec // TryWritev's, grown to the longest vector
	n             int
	err           syscall.Errno
}

func (w *Writer) Write(p []byte) (int, error) {
	if w.rc == nil {
		return w.w.Write(p)
	}
	w.p, w.n, w.err = p, 0, 0
	err := w.rc.Write(w.write)
	w.p = nil
	if err == nil && w.err != 0 {
		err = os.NewSyscallError("write", w.err)
	}
	if err == nil && w.n < len(p) {
		err = io.ErrShortWrite
	}
	return w.n, err
}

// writeFD writes what is left of p; false waits for room.
func (w *Writer) writeFD(fd uintptr) bool {
	for w.n < len(w.p) {
		b := w.p[w.n:]
		n, _, e := unix.RawSyscall(unix.SYS_WRITE, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		switch e {
		case 0:
			w.n += int(n)
		case unix.EINTR:
		case unix.EAGAIN:
			return false
		default:
			w.err = e
			return true
		}
	}
	return true
}

// CanTryWritev reports whether TryWritev can be used.
func (w *Writer) CanTryWritev() bool { return w.rc != nil }

// TryWritev writes bufs, in order, with one writev that does not wait,
// and returns how much of them the socket took; ok is false on an error
// other than a full socket.
func (w *Writer) TryWritev(bufs ...[]byte) (n int, ok bool) {
	w.iov = w.iov[:0]
	for _, b := range bufs {
		if len(b) > 0 {
			v := unix.Iovec{Base: unsafe.SliceData(b)}
			v.SetLen(len(b))
			w.iov = append(w.iov, v)
		}
	}
	if len(w.iov) == 0 {
		return 0, true
	}
	err := w.rc.Write(w.writev)
	clear(w.iov) // keep no pointer into the slots
	switch {
	case err != nil:
		return 0, false // the socket is closed
	case w.err == 0:
		return w.n, true
	case w.err == unix.EAGAIN:
		return 0, true
	}
	return 0, false
}

// writevFD is TryWritev's one attempt, done either way.
func (w *Writer) writevFD(fd uintptr) bool {
	for {
		n, _, e := unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(len(w.iov)))
		if e != unix.EINTR {
			w.n, w.err = int(n), e
			return true
		}
	}
}
