// Package idlepoll lets a server that expects its client back within
// microseconds wait for it on its CPU instead of letting the CPU go idle.
//
// An idle CPU wakes up slowly: in a virtual machine whose guest does not
// poll before halting (haltpoll.guest_halt_poll_ns=0, as on this
// project's test machines), a halted vCPU runs again only once the host
// schedules it. At queue depth 1 every request then paid two wake-ups,
// the server's and the client's: tapdisk served 4 KiB page-cache reads
// with a p50 of 110 µs on two CPUs, and of 19-30 µs when pinned to the
// client's CPU, where neither ever sleeps. A Waiter spins for its next
// request for a bounded window instead, only while the client keeps
// coming back within it (QEMU's IOThreads poll the same way, adaptively,
// by default).
//
// While it spins, the goroutine holds its P: with GOMAXPROCS=1, nothing
// the Go netpoller would wake (another connection, the io_uring reaper)
// runs meanwhile. So the spin watches every descriptor registered with
// Watch through one epoll set of its own, and stops as soon as one that
// is not its own is ready, leaving the scheduler to serve it.
package idlepoll

import (
	"runtime"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// set is the process's epoll set of watched descriptors. A descriptor
// leaves it when closed (the kernel drops a closed file from every epoll
// set), so nothing is removed by hand: a number removed after its close
// could be another file's by then.
var set struct {
	once sync.Once
	fd   int // -1 if epoll is unavailable: no Waiter spins
}

func epollFD() int {
	set.once.Do(func() {
		fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
		if err != nil {
			fd = -1
		}
		set.fd = fd
	})
	return set.fd
}

// Watch adds the descriptor of c to the set a spin watches; it reports
// whether it could (a spin that cannot see it must not run).
func Watch(c syscall.Conn) bool {
	fd, ok := fdOf(c)
	return ok && WatchFD(fd)
}

// fdOf is c's descriptor.
func fdOf(c syscall.Conn) (fd int, ok bool) {
	rc, err := c.SyscallConn()
	if err != nil {
		return 0, false
	}
	err = rc.Control(func(f uintptr) { fd = int(f) })
	return fd, err == nil
}

// WatchFD is Watch for a descriptor the caller keeps open while it is
// watched.
func WatchFD(fd int) bool {
	ep := epollFD()
	if ep < 0 {
		return false
	}
	ev := unix.EpollEvent{Events: unix.EPOLLIN, Fd: int32(fd)}
	err := unix.EpollCtl(ep, unix.EPOLL_CTL_ADD, fd, &ev)
	return err == nil || err == unix.EEXIST
}

// A Waiter waits for one watched descriptor's next bytes, spinning for
// them within its window while its client comes back that fast. It
// belongs to one goroutine.
type Waiter struct {
	fd     int32
	window time.Duration
	// spinning: the last waits were short enough for a spin to catch
	// the next. It turns on after a sleeping wait shorter than the window
	// (a spin would have caught it), and off after a spin that did not
	// catch the bytes: a client that slowed down costs one window.
	spinning bool
	start    time.Time
	caught   bool
	events   [8]unix.EpollEvent
}

// NewWaiter returns a Waiter for c's descriptor, which it watches; nil
// when window is 0 or c cannot be watched (its Before and After then do
// nothing).
func NewWaiter(c syscall.Conn, window time.Duration) *Waiter {
	fd, ok := fdOf(c)
	if window <= 0 || !ok || !WatchFD(fd) {
		return nil
	}
	return &Waiter{fd: int32(fd), window: window}
}

// Before is called when the goroutine has nothing in flight and is about
// to wait for its descriptor: it spins first, if the last waits were
// short, until the descriptor is readable, another watched one is, or
// the window ends.
func (w *Waiter) Before() {
	if w == nil {
		return
	}
	w.start = time.Now()
	w.caught = false
	if w.spinning {
		w.caught = w.spin()
	}
}

// After is called once the wait Before began is over.
func (w *Waiter) After() {
	if w == nil {
		return
	}
	if w.spinning {
		w.spinning = w.caught
		return
	}
	w.spinning = time.Since(w.start) < w.window
}

// spin polls the set without waiting until the descriptor is ready (true)
// or another is, or the window ends (false). A raw system call: it cannot
// block, and the runtime's syscall entry would wake sysmon each time.
// Gosched lets runnable goroutines (a writer) run between polls.
func (w *Waiter) spin() bool {
	ep := uintptr(epollFD())
	for end := w.start.Add(w.window); ; {
		n, _, e := unix.RawSyscall6(unix.SYS_EPOLL_PWAIT, ep, uintptr(unsafe.Pointer(&w.events[0])), uintptr(len(w.events)), 0, 0, 0)
		switch e {
		case 0:
		case unix.EINTR:
			n = 0
		default:
			return false
		}
		for _, ev := range w.events[:n] {
			if ev.Fd != w.fd {
				return false
			}
		}
		if n > 0 {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		runtime.Gosched()
	}
}
