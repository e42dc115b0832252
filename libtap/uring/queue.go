package uring

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"gotap.dev/libtap/internal/idlepoll"
)

// Queue runs operations through one Ring for any number of goroutines,
// each waiting for its own: a goroutine takes a Call, fills its entry,
// and Run submits it and parks the goroutine until its completion. A
// Queue has as many Calls as the ring has entries, made once: nothing is
// allocated per operation, and the completion queue cannot overflow. Or
// the goroutine Starts the Call and goes on with its work, and a Handler
// hears of the completion on the goroutine that reaps it.
//
// Completions are reaped by the goroutine that submits, when they are
// already there (a read from the page cache completes inside the
// submission), and otherwise by one reaper goroutine waiting in the Go
// netpoller on an eventfd the kernel signals at each completion
// (IORING_REGISTER_EVENTFD): no OS thread is held waiting, and no
// goroutine exists per operation. The eventfd is off while a goroutine
// submits and reaps, so that what it reaps itself does not wake the
// reaper for nothing (a wake-up, an epoll and two reads: 30% of a cached
// 4 KiB read). (Not IORING_REGISTER_EVENTFD_ASYNC: it signals only
// completions posted by io-wq workers, and an O_DIRECT completion is
// posted by the submitting thread's task work.)
type Queue struct {
	ring  *Ring
	sqMu  sync.Mutex // the submitting side of ring, and the eventfd's switch
	cqMu  sync.Mutex // the reaping side of ring
	calls []Call
	free  chan *Call
	// ready holds Calls started with Start whose completion was reaped,
	// for the reaping goroutine to hand to their Handlers once it has let
	// go of cqMu (a Handler may Start again, or block a while).
	ready chan *Call
	fixed []byte // registered buffer 0, if registration worked
	// held are the Calls Enqueue put in the submission queue and no
	// submission has handed to the kernel yet; guarded by sqMu.
	held []*Call

	efd    *os.File
	efdRaw syscall.RawConn
	// drainEventfd is efdRaw.Read's callback, a method value made once.
	drainEventfd func(fd uintptr) bool
	evbuf        [8]byte
	waited       bool          // drain's first call of a wait returns false
	reaped       chan struct{} // closed when the reaper ends
	closing      atomic.Bool   // set by Close: the reaper's wait fails
}

// Call is one operation's slot in a Queue.
type Call struct {
	sqe SQE
	iov []unix.Iovec // kept across uses: grown once to the largest vector
	// res is written by the reaper, ordered after the submission by the
	// kernel, which the race detector cannot see: hence atomic.
	res  atomic.Int32
	done chan struct{}
	h    Handler // set by Start, before async
	// async: started by Start; atomic for the same reason as res.
	async atomic.Bool
	id    uint64
}

// NewQueue sets up a ring of entries and registers fixed, if not empty,
// as its buffer 0 (see Fixed). A registration the kernel refuses (the
// locked-memory limit) leaves the queue without fixed buffers.
func NewQueue(entries uint32, fixed []byte) (*Queue, error) {
	r, err := New(entries, SetupClamp)
	if err != nil {
		return nil, err
	}
	q := &Queue{ring: r, reaped: make(chan struct{})}
	if err := q.start(); err != nil {
		r.Close()
		return nil, err
	}
	if len(fixed) > 0 && r.RegisterBuffers(fixed) == nil {
		q.fixed = fixed
	}
	n := r.Entries()
	q.calls = make([]Call, n)
	q.free = make(chan *Call, n)
	q.held = make([]*Call, 0, n)
	q.ready = make(chan *Call, n)
	for i := range q.calls {
		q.calls[i] = Call{id: uint64(i), done: make(chan struct{}, 1)}
		q.free <- &q.calls[i]
	}
	go q.reap()
	return q, nil
}

func (q *Queue) start() error {
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		return fmt.Errorf("io_uring: eventfd: %w", err)
	}
	if err := q.ring.RegisterEventfd(fd); err != nil {
		unix.Close(fd)
		return err
	}
	q.efd = os.NewFile(uintptr(fd), "io_uring-eventfd") // non-blocking: waited for in the netpoller
	idlepoll.WatchFD(fd)                                // an idle spin gives way to the reaper
	q.efdRaw, err = q.efd.SyscallConn()
	if err != nil {
		q.efd.Close()
		return fmt.Errorf("io_uring: eventfd: %w", err)
	}
	q.drainEventfd = q.drain
	return nil
}

// Supported reports whether the kernel has every one of ops.
func (q *Queue) Supported(ops ...uint8) error { return q.ring.Supported(ops...) }

// Fixed reports whether b lies in the registered buffer (index 0), so
// that OpReadFixed and OpWriteFixed may carry it.
func (q *Queue) Fixed(b []byte) bool {
	if len(q.fixed) == 0 || len(b) == 0 {
		return false
	}
	p, base := uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(unsafe.Pointer(unsafe.SliceData(q.fixed)))
	return p >= base && p+uintptr(len(b)) <= base+uintptr(len(q.fixed))
}

// Entries is how many Calls the Queue has.
func (q *Queue) Entries() int { return len(q.calls) }

// HasFixed reports whether buffers were registered.
func (q *Queue) HasFixed() bool { return len(q.fixed) > 0 }

// Handler hears of the completion of a Call started with Start.
type Handler interface {
	// Completed is called on the goroutine that reaped the completion,
	// holding no lock of the Queue: it may Start the Call again, or Put
	// it. It must not Run, nor wait for anything a goroutine in Run may
	// hold (a lock taken around a Run): that goroutine waits for the
	// reaper, which may be the one calling Completed.
	Completed(c *Call, res int32)
}

// TryGet takes a free Call, or returns nil if all are running.
func (q *Queue) TryGet() *Call {
	select {
	case c := <-q.free:
		c.sqe.Reset()
		return c
	default:
		return nil
	}
}

// ID numbers the Call among its Queue's, from 0.
func (c *Call) ID() int { return int(c.id) }

// Start submits the Call's entry, with the entries Enqueue holds, and
// returns at once; h hears of its completion on the goroutine that reaps
// it: the reaper's, another submitter's, or this one's before Start
// returns, when the operation completed inside the submission (a read
// from the page cache: no wake-up of the reaper then, no epoll, no
// eventfd read). Meanwhile the goroutine that started it goes on with
// its own work: no goroutine waits for the operation. A submission that
// fails returns its error for this Call and fails the held ones.
func (q *Queue) Start(c *Call, h Handler) error {
	q.sqMu.Lock()
	q.put(c, h)
	err := q.submitLocked()
	q.sqMu.Unlock()
	q.handReady()
	return err
}

// Enqueue puts the Call's entry in the submission queue without entering
// the kernel: the next Start, Run or Submit hands it over with its own,
// so that a burst of operations costs one system call, and the block
// layer sees them as one batch (one doorbell of a virtio disk, where
// each alone costs a VM exit). h hears of its completion as for Start;
// a submission that fails fails it with that error's errno.
func (q *Queue) Enqueue(c *Call, h Handler) {
	q.sqMu.Lock()
	q.put(c, h)
	q.held = append(q.held, c)
	q.sqMu.Unlock()
}

// Submit hands the entries Enqueue holds to the kernel.
func (q *Queue) Submit() {
	q.sqMu.Lock()
	if len(q.held) > 0 {
		q.submitLocked()
	}
	q.sqMu.Unlock()
	q.handReady()
}

// put copies an asynchronous Call's entry into the submission queue; the
// caller holds sqMu.
func (q *Queue) put(c *Call, h Handler) {
	e := q.ring.SQE() // never nil: no more Calls than entries
	*e = c.sqe
	e.UserData = c.id
	// Marked after the entry is copied and before it is submitted: the
	// reaper loads async once the kernel has completed the entry, which
	// orders that copy before a Handler's reuse of the Call for the race
	// detector too (it cannot see the order the kernel gives).
	c.h = h
	c.async.Store(true)
}

// submitLocked submits everything in the submission queue with the
// eventfd off and reaps on this goroutine what completed meanwhile. If
// the submission fails, the held Calls are failed (ready for their
// Handlers) and the error returned for the caller's own. The caller holds
// sqMu and calls handReady after letting it go.
func (q *Queue) submitLocked() error {
	q.ring.EventfdEnabled(false)
	_, err := q.ring.Submit()
	if err != nil {
		res := -int32(errnoOf(err))
		for _, c := range q.held {
			c.res.Store(res)
			q.ready <- c
		}
	}
	clear(q.held)
	q.held = q.held[:0]
	q.reapOwn()
	return err
}

// errnoOf is the errno err carries, or EIO.
func errnoOf(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}

// Get takes a free Call, waiting while all are running.
func (q *Queue) Get() *Call {
	c := <-q.free
	c.sqe.Reset()
	return c
}

// Put returns a Call taken by Get or TryGet.
func (q *Queue) Put(c *Call) {
	c.async.Store(false)
	c.h = nil
	q.free <- c
}

// SQE is the entry Run will submit.
func (c *Call) SQE() *SQE { return &c.sqe }

// Iovecs points the Call's vector at bufs and returns it; it stays valid
// until the Call is put back.
func (c *Call) Iovecs(bufs [][]byte) []unix.Iovec {
	c.iov = c.iov[:0]
	for _, b := range bufs {
		v := unix.Iovec{Base: unsafe.SliceData(b)}
		v.SetLen(len(b))
		c.iov = append(c.iov, v)
	}
	return c.iov
}

// Run submits the Call's entry and waits for its completion; it returns
// the completion's result (a count, or -errno), or the error of a
// submission that failed (nothing then runs).
func (q *Queue) Run(c *Call) (int32, error) {
	q.sqMu.Lock()
	e := q.ring.SQE() // never nil: no more Calls than entries
	*e = c.sqe
	e.UserData = c.id
	err := q.submitLocked()
	q.sqMu.Unlock()
	q.handReady()
	if err != nil {
		return 0, err
	}
	<-c.done
	return c.res.Load(), nil
}

// reapOwn reaps, on the goroutine that has just submitted with the
// eventfd off, what completed meanwhile (a read from the page cache
// completes inside the submission), then turns the eventfd on again and
// reaps what was posted in between: nothing is left unsignalled for the
// reaper, and nothing it reaped woke the reaper for nothing.
func (q *Queue) reapOwn() {
	q.cqMu.Lock()
	q.reapLocked()
	q.ring.EventfdEnabled(true)
	q.reapLocked()
	q.cqMu.Unlock()
}

// reap waits for the eventfd and hands completions to their Calls.
func (q *Queue) reap() {
	defer close(q.reaped)
	for {
		if err := q.efdRaw.Read(q.drainEventfd); err != nil {
			if !q.closing.Load() {
				panic(fmt.Sprintf("io_uring: eventfd: %v", err)) // a read of an eventfd cannot fail otherwise
			}
			return
		}
		q.cqMu.Lock()
		q.reapLocked()
		q.cqMu.Unlock()
		q.handReady()
	}
}

// handReady calls the Handlers of the reaped Calls.
func (q *Queue) handReady() {
	for {
		select {
		case c := <-q.ready:
			c.h.Completed(c, c.res.Load())
		default:
			return
		}
	}
}

// drain is called by RawConn.Read before waiting, and again once the
// eventfd is readable. The first call must not assume nothing is there:
// Read begins by forgetting any readiness the poller saw before (its
// prepareRead), so a completion signalled while the reaper was busy
// reaping would never wake it. It looks at the completion queue instead,
// a load from shared memory, not a read of the eventfd (a read then is
// wasted when the count is zero). The second call resets the count. A
// raw read: it cannot block, and a read through the runtime's syscall
// entry wakes sysmon each time (perf: that was 46% of the thread
// wake-ups of a QD1 O_DIRECT run).
func (q *Queue) drain(fd uintptr) bool {
	if !q.waited {
		if q.ring.PeekCQE() != nil {
			return true // reap what is there; the count is reset after a wait
		}
		q.waited = true
		return false
	}
	q.waited = false
	unix.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&q.evbuf[0])), uintptr(len(q.evbuf)))
	return true
}

func (q *Queue) reapLocked() {
	for e := q.ring.PeekCQE(); e != nil; e = q.ring.PeekCQE() {
		c := &q.calls[e.UserData]
		c.res.Store(e.Res)
		q.ring.SeenCQE()
		if c.async.Load() {
			q.ready <- c
			continue
		}
		c.done <- struct{}{}
	}
}

// Close ends the reaper and closes the ring; no Call may be running.
func (q *Queue) Close() error {
	q.closing.Store(true)
	q.efd.Close()
	<-q.reaped
	return q.ring.Close()
}
