package ublk

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/uring"
)

// queue serves one of a device's hardware queues on an OS thread of its
// own: ublk_drv hands a queue's requests to the task that fetched its
// tags, and takes their commits only from it. The thread waits in
// io_uring_enter for requests (the completions of its fetches) and for
// the VBD's completions (a read of an eventfd they signal), and handles
// both inline: a request is turned into a ring slot and submitted to the
// VBD, a completion into a COMMIT_AND_FETCH_REQ, all without allocating.
type queue struct {
	id    uint16
	depth int
	maxIO int
	fd    int // /dev/ublkcN, shared by the device's queues
	exp   Export
	log   *slog.Logger

	ring  *uring.Ring
	descs []byte // the kernel's descriptors of this queue's tags, read-only
	bufs  []byte // depth buffers of maxIO bytes, one per tag

	// done carries the tags the VBD completed, results their results
	// (written before the send); the thread commits them.
	done    chan uint16
	results []int32
	// efd wakes the thread; woken says a wake-up is on its way, so
	// that a burst of completions writes it once.
	efd      int
	woken    atomic.Bool
	one      [8]byte // the count a completion adds to efd
	evbuf    [8]byte // the thread's read of efd
	stopping atomic.Bool
	// completing counts the requests at the VBD, until their Complete
	// has returned: their buffers and efd are in use until then.
	completing sync.WaitGroup
	ended      chan struct{}
	// batch collects the requests one wait fetched.
	batch *ring.Batch
}

// wakeData is the user data of the eventfd read, beyond every tag.
const wakeData = 1 << 32

func newQueue(id, depth, maxIO, fd int, exp Export, log *slog.Logger) *queue {
	q := &queue{
		id: uint16(id), depth: depth, maxIO: maxIO, fd: fd, exp: exp, log: log.With("queue", id),
		done: make(chan uint16, depth), results: make([]int32, depth), efd: -1, ended: make(chan struct{}),
	}
	q.one[0] = 1
	q.batch = nbd.NewBatch(exp, depth)
	return q
}

// start sets the queue up on a new locked thread and has it serve: the
// error is set-up's. The thread is never unlocked: it ends with the
// queue, and the kernel takes the death of the thread that fetched a
// queue's tags for its server's (quiescing the device for a recovery).
func (q *queue) start() error {
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer close(q.ended)
		err := q.setup()
		started <- err
		if err == nil {
			q.serve()
		}
		q.teardown()
	}()
	err := <-started
	if err != nil {
		<-q.ended
		q.closeWake()
	}
	return err
}

// setup maps the descriptors, makes the buffers, the ring and the
// eventfd, and fetches every tag. A fetch the kernel refuses completes
// within the submission, so it is seen here.
func (q *queue) setup() error {
	page := os.Getpagesize()
	var err error
	size := descsSize(q.depth, page)
	q.descs, err = unix.Mmap(q.fd, descsOffset(int(q.id), page), size, unix.PROT_READ, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return fmt.Errorf("queue %d: map descriptors: %w", q.id, err)
	}
	// Anonymous memory, touched only as far as requests reach.
	q.bufs, err = unix.Mmap(-1, 0, q.depth*q.maxIO, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return fmt.Errorf("queue %d: buffers: %w", q.id, err)
	}
	if q.efd, err = unix.Eventfd(0, unix.EFD_CLOEXEC); err != nil {
		return fmt.Errorf("queue %d: eventfd: %w", q.id, err)
	}
	// An entry per tag and one for the eventfd's read.
	if q.ring, err = uring.New(uint32(q.depth+1), uring.SetupSQE128|uring.SetupCoopTaskrun); err != nil {
		return fmt.Errorf("queue %d: %w", q.id, err)
	}
	for tag := range q.depth {
		q.command(ioFetchReq, uint16(tag), 0)
	}
	q.armWake()
	if _, err := q.ring.Submit(); err != nil {
		return fmt.Errorf("queue %d: fetch: %w", q.id, err)
	}
	if e := q.ring.PeekCQE(); e != nil {
		return fmt.Errorf("queue %d: fetch of tag %d: %w", q.id, e.UserData, unix.Errno(-e.Res))
	}
	return nil
}

// buf is tag's buffer.
func (q *queue) buf(tag uint16) []byte {
	return q.bufs[int(tag)*q.maxIO:][:q.maxIO:q.maxIO]
}

// command queues I/O command nr for tag, committing res for a commit.
// There is always an entry: a tag has one command at a time.
func (q *queue) command(nr uint32, tag uint16, res int32) {
	e := q.ring.SQE()
	e.PrepURingCmd(q.fd, ioOp(nr))
	e.UserData = uint64(tag)
	ioCmd{queue: q.id, tag: tag, result: res, addr: uint64(uintptr(unsafe.Pointer(&q.buf(tag)[0])))}.encode(e.Cmd())
}

// armWake queues the eventfd's read.
func (q *queue) armWake() {
	e := q.ring.SQE()
	e.PrepBuf(uring.OpRead, q.efd, q.evbuf[:], 0)
	e.UserData = wakeData
}

// serve runs until stop: it submits what is queued, waits for a
// completion, and handles what completed.
func (q *queue) serve() {
	for {
		if _, err := q.ring.SubmitAndWait(1); err != nil {
			// The device quiesces as for a dead server; a recover
			// may take it over.
			q.log.Error("ublk queue ends", "err", err)
			return
		}
		for e := q.ring.PeekCQE(); e != nil; e = q.ring.PeekCQE() {
			data, res := e.UserData, e.Res
			q.ring.SeenCQE()
			if data == wakeData {
				if q.stopping.Load() {
					return
				}
				q.woken.Store(false)
				q.armWake()
				continue
			}
			q.fetched(uint16(data), res)
		}
		q.batch.Submit()
		q.commitDone()
	}
}

// fetched handles a fetch's completion: tag's next request, or its end.
func (q *queue) fetched(tag uint16, res int32) {
	if res != 0 {
		// The tag is not fetched again: the device stops (abort), or
		// the kernel refused its command, which only a recover mends.
		if res != ioResAbort {
			q.log.Error("ublk fetch failed", "tag", tag, "err", unix.Errno(-res))
		}
		return
	}
	d := parseDesc(q.descs, int(tag))
	rg := q.exp.Ring()
	req := rg.TryGet()
	if req == nil {
		q.batch.Submit()                      // their completions may be what frees a slot
		req, _ = rg.Get(context.Background()) // never fails without a deadline
	}
	if errno := fill(req, d, q.buf(tag)); errno != 0 {
		rg.Put(req)
		q.command(ioCommitAndFetchReq, tag, -int32(errno))
		return
	}
	req.Owner, req.Cookie = q, uint64(tag)
	q.completing.Add(1)
	q.batch.Add(req)
}

// Complete takes a request back from the VBD, on whichever goroutine
// completes it, and hands its result to the thread.
func (q *queue) Complete(req *ring.Request) {
	tag := uint16(req.Cookie)
	q.results[tag] = result(req)
	q.exp.Ring().Put(req)
	q.done <- tag // never blocks: a slot per tag
	if !q.woken.Swap(true) {
		unix.Write(q.efd, q.one[:])
	}
	q.completing.Done()
}

// commitDone commits what the VBD completed.
func (q *queue) commitDone() {
	for {
		select {
		case tag := <-q.done:
			q.command(ioCommitAndFetchReq, tag, q.results[tag])
		default:
			return
		}
	}
}

// stop ends the thread, once the device is stopped (its fetches are
// aborted or cancelled with the ring), and waits for it up to wait. The
// eventfd is closed here, after the thread, so that no write reaches a
// descriptor number reused meanwhile.
func (q *queue) stop(wait time.Duration) error {
	q.stopping.Store(true)
	unix.Write(q.efd, q.one[:])
	select {
	case <-q.ended:
		q.closeWake()
		return nil
	case <-time.After(wait):
		return fmt.Errorf("queue %d: still running after %v (requests held at the VBD?)", q.id, wait)
	}
}

func (q *queue) closeWake() {
	if q.efd >= 0 {
		unix.Close(q.efd)
	}
}

// teardown frees what setup made, on the queue's thread, once the VBD
// has given back every request (their buffers are ours until then).
func (q *queue) teardown() {
	q.completing.Wait()
	if q.ring != nil {
		q.ring.Close() // cancels the fetches still posted
	}
	if q.bufs != nil {
		unix.Munmap(q.bufs)
	}
	if q.descs != nil {
		unix.Munmap(q.descs)
	}
}
