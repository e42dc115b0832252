package nbd

import (
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// directWriter writes a reply to the socket with one writev that never
// waits: the socket is non-blocking (Go's), and the write is made in
// RawConn.Write's callback, which returns at once whatever came of it.
// Its fields are the callback's arguments and results, so that nothing
// is allocated per write; the caller serialises its use (conn.wmu).
type directWriter struct {
	rc   syscall.RawConn // nil: not usable (TLS)
	call func(fd uintptr) bool
	iov  [2]unix.Iovec
	niov int
	n    int
	err  syscall.Errno
}

func (w *directWriter) init(rc syscall.RawConn) {
	w.rc = rc
	w.call = w.writevFD
}

func (w *directWriter) usable() bool { return w.rc != nil }

// writev writes hdr then payload and returns how much of them the socket
// took; ok is false on an error other than a full socket.
func (w *directWriter) writev(hdr, payload []byte) (n int, ok bool) {
	w.niov = 0
	for _, b := range [2][]byte{hdr, payload} {
		if len(b) > 0 {
			w.iov[w.niov] = unix.Iovec{Base: unsafe.SliceData(b)}
			w.iov[w.niov].SetLen(len(b))
			w.niov++
		}
	}
	if err := w.rc.Write(w.call); err != nil {
		return 0, false // the socket is closed
	}
	w.iov = [2]unix.Iovec{} // keep no pointer into the slot
	switch w.err {
	case 0:
		return w.n, true
	case unix.EAGAIN:
		return 0, true
	}
	return 0, false
}

// writevFD is RawConn.Write's callback: one attempt, done either way. A
// raw system call, as it cannot block (see uring's drain).
func (w *directWriter) writevFD(fd uintptr) bool {
	r, _, e := unix.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&w.iov[0])), uintptr(w.niov))
	w.n, w.err = int(r), e
	return true
}
