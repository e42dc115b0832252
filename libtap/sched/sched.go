// Package sched is the request scheduler between the ring and a driver.
//
// One goroutine takes requests off the submission queue in batches and
// merges runs of adjacent reads (or writes) into one vectored I/O, as
// blktap does (at most MaxIovecs requests, MaxMerge bytes). A fixed set
// of Depth workers performs the I/O, so a driver never has more than
// Depth operations in flight; when all are busy the batch waits, and the
// queue behind it fills: back-pressure reaches the frontends through the
// ring, and no request is ever dropped.
//
// A driver that can start a read or write without a goroutine waiting for
// it (Starter: aio on io_uring) gets them straight from Submit, on the
// frontend's goroutine, while nothing waits in the queue and a job is
// free within Depth: no dispatcher, no worker, and the completion comes
// back on the goroutine that reaps it. Requests that queue up behind
// (the depth reached, a pause, other operations) take the path above,
// and are merged there.
//
// Pausing shuts the driver gate: workers finish what they are doing, the
// rest wait at the gate (not failed) until Resume hands over a driver
// again. A pause that cannot wait that long (a driver operation hangs)
// gives up at its context's end and leaves the gate open (gate.go).
package sched

import (
	"context"
	"log/slog"
	"sync"
	"syscall"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/ratelog"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/stats"
)

// Config tunes a scheduler; zero fields take blktap's defaults.
type Config struct {
	Depth     int           // concurrent driver operations (default 32)
	MaxIovecs int           // requests merged into one I/O (default 8)
	MaxMerge  int64         // bytes merged into one I/O (default 1 MiB)
	RetryGap  time.Duration // between retries of EAGAIN/EINTR (default 1 s)
	Timeout   time.Duration // give up retrying after (default 120 s)
	Logger    *slog.Logger
	// Failed, if set, hears of every driver operation that failed (once
	// for requests merged into one), for the VBD's recent errors; it must
	// not block.
	Failed func(op ring.Op, off, n int64, err error)
}

func (c *Config) defaults() {
	if c.Depth <= 0 {
		c.Depth = 32
	}
	if c.MaxIovecs <= 0 {
		c.MaxIovecs = 8
	}
	if c.MaxMerge <= 0 {
		c.MaxMerge = 1 << 20
	}
	if c.RetryGap <= 0 {
		c.RetryGap = time.Second
	}
	if c.Timeout <= 0 {
		c.Timeout = 120 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// Scheduler runs requests against a driver.
type Scheduler struct {
	cfg   Config
	stats *stats.Counters
	queue chan *ring.Request
	work  chan *job
	// jobs are the free jobs, Depth of them: every operation in the
	// driver holds one, workers' and started alike, so Depth bounds them
	// together; the dispatcher holds one while it builds it.
	jobs chan *job

	gate gate        // driver operations pass it; Pause shuts it
	drv  disk.Driver // changed only while the gate is shut
	// starter is drv as a Starter, if it is one; changed with drv.
	starter Starter
	// nativeFUA caches drv's FUA support, read once per driver: without
	// it, a FUA request is made durable by a flush after it (durable).
	nativeFUA bool
	stopping  chan struct{}
	done      sync.WaitGroup
	failLog   *ratelog.Limiter // "request failed" lines
}

// A failing disk fails every request: log the first few failures of each
// second, then how many more there were.
const (
	failLogBurst  = 5
	failLogPeriod = time.Second
)

// Starter is a driver that can start reads and writes without waiting
// for them (see disk.Driver's ReadV and WriteV for their arguments).
// StartV returns false, having started nothing, when it cannot start one
// now; otherwise done is called once with the outcome, possibly before
// StartV returns. With more, another StartV follows at once: the driver
// may hold this operation back to start it with the next ones, until
// Unplug.
type Starter interface {
	StartV(write bool, bufs [][]byte, off int64, fua, more bool, done func(error)) bool
	// Unplug starts the operations StartV holds back.
	Unplug()
}

// job is one driver operation: one request, or several merged.
type job struct {
	reqs []*ring.Request
	iov  [][]byte
	s    *Scheduler
	// finished is j.finish, made once: a Starter's done.
	finished func(error)
}

// New starts a scheduler for drv. queueCap must be at least the number
// of requests that can be outstanding (the ring's capacity), so Submit
// never blocks.
func New(drv disk.Driver, st *stats.Counters, queueCap int, cfg Config) *Scheduler {
	cfg.defaults()
	s := &Scheduler{
		cfg:       cfg,
		stats:     st,
		queue:     make(chan *ring.Request, queueCap),
		work:      make(chan *job),
		jobs:      make(chan *job, cfg.Depth),
		drv:       drv,
		nativeFUA: drv.Caps().FUA == disk.Native,
		stopping:  make(chan struct{}),
		failLog:   ratelog.New(cfg.Logger, "request failed", failLogBurst, failLogPeriod),
	}
	s.starter, _ = drv.(Starter)
	for range cfg.Depth {
		j := &job{reqs: make([]*ring.Request, 0, cfg.MaxIovecs), iov: make([][]byte, 0, cfg.MaxIovecs), s: s}
		j.finished = j.finish
		s.jobs <- j
	}
	s.done.Add(1 + cfg.Depth)
	go s.dispatch()
	for range cfg.Depth {
		go s.worker()
	}
	return s
}

// Submit queues a request; its Owner's Complete is called when it is done.
func (s *Scheduler) Submit(req *ring.Request) {
	s.admit(req)
	if s.start(req, false) == nil {
		s.queue <- req
	}
}

// SubmitBatch queues requests that arrived together: a Starter driver
// gets them as one burst (StartV's more, then one Unplug), which on
// io_uring is one system call, not one each.
func (s *Scheduler) SubmitBatch(reqs []*ring.Request) {
	var held Starter // holds operations back until Unplug
	for i, req := range reqs {
		s.admit(req)
		more := i < len(reqs)-1
		st := s.start(req, more)
		if st == nil {
			s.queue <- req
			continue
		}
		if more {
			held = st
		}
	}
	// The held operations keep their driver: each holds the gate, so no
	// Pause can take the driver away before they are started. Unplugged
	// even if the last request was started: a driver may have done it
	// without starting the held ones (aio's buffered writes).
	if held != nil {
		held.Unplug()
	}
}

func (s *Scheduler) admit(req *ring.Request) {
	req.Submitted = time.Now()
	req.SetInFlight(true)
	s.stats.InFlight.Add(1)
}

// start hands a read or write straight to a Starter driver, if nothing
// waits in the queue, the gate is open, a job is free and the driver
// takes it, and returns that driver; nil: req goes the queue's way. A FUA
// write goes so only where the driver makes it durable itself.
func (s *Scheduler) start(req *ring.Request, more bool) Starter {
	if (req.Op != ring.Read && req.Op != ring.Write) || len(s.queue) > 0 || !s.gate.tryEnter() {
		return nil
	}
	st := s.starter
	if st == nil || (req.Flags&ring.FUA != 0 && !s.nativeFUA) {
		s.gate.leave()
		return nil
	}
	var j *job
	select {
	case j = <-s.jobs:
	default:
		s.gate.leave()
		return nil
	}
	j.add(req)
	s.done.Add(1) // Stop waits for it too
	if st.StartV(req.Op == ring.Write, j.iov, req.Offset, req.Flags&ring.FUA != 0, more, j.finished) {
		return st
	}
	s.done.Done()
	s.release(j)
	s.gate.leave()
	return nil
}

// finish ends a job a Starter ran. Errors worth a retry are retried the
// worker's way, on a goroutine of their own: they are rare, and the
// reaping goroutine must not sleep.
func (j *job) finish(err error) {
	s := j.s
	s.gate.leave()
	if err != nil && retryable(err) {
		go func() {
			s.gate.enter()
			err := s.retry(j, err)
			s.gate.leave()
			s.end(j, err)
		}()
		return
	}
	s.end(j, err)
}

// end completes a started job's requests and frees it.
func (s *Scheduler) end(j *job, err error) {
	s.complete(j, err)
	s.release(j)
	s.done.Done()
}

func (s *Scheduler) release(j *job) {
	j.reqs, j.iov = j.reqs[:0], j.iov[:0]
	s.jobs <- j
}

// Pause waits for the driver operations in progress, then keeps every
// other request waiting; it returns the driver, which the caller may
// close or keep. If ctx ends first, nothing is paused and ctx's error is
// returned.
func (s *Scheduler) Pause(ctx context.Context) (disk.Driver, error) {
	if err := s.gate.close(ctx); err != nil {
		return nil, err
	}
	d := s.drv
	s.drv, s.starter = nil, nil
	return d, nil
}

// Resume lets the waiting requests run against drv.
func (s *Scheduler) Resume(drv disk.Driver) {
	s.drv = drv
	s.starter, _ = drv.(Starter)
	s.nativeFUA = drv.Caps().FUA == disk.Native
	s.gate.open()
}

// Stop ends the scheduler once every queued request has completed; no
// Submit may follow. It must not be called while paused.
func (s *Scheduler) Stop() {
	close(s.stopping)
	s.done.Wait()
}

// dispatch takes what is queued, merges, and hands jobs to workers.
func (s *Scheduler) dispatch() {
	defer s.done.Done()
	defer close(s.work)
	var cur *job
	for {
		var req *ring.Request
		select {
		case req = <-s.queue:
		case <-s.stopping:
			select {
			case req = <-s.queue:
			default:
				if cur != nil {
					s.work <- cur
				}
				return
			}
		}
		if cur != nil && !s.merge(cur, req) {
			s.work <- cur
			cur = nil
		}
		if cur == nil {
			cur = <-s.jobs
			cur.add(req)
		}
		// Hand the job over once nothing more is queued to merge into it.
		if len(s.queue) == 0 {
			s.work <- cur
			cur = nil
		}
	}
}

// merge adds req to j if it continues j's I/O.
func (s *Scheduler) merge(j *job, req *ring.Request) bool {
	last := j.reqs[len(j.reqs)-1]
	if (req.Op != ring.Read && req.Op != ring.Write) || req.Op != last.Op || req.Flags != last.Flags ||
		req.Offset != last.Offset+last.Length || len(j.reqs) >= s.cfg.MaxIovecs ||
		req.Offset+req.Length-j.reqs[0].Offset > s.cfg.MaxMerge {
		return false
	}
	j.add(req)
	s.stats.Merges.Add(1)
	return true
}

func (j *job) add(req *ring.Request) {
	j.reqs = append(j.reqs, req)
	j.iov = append(j.iov, req.Buf)
}

// rewind points the vector at the whole of every request's buffer again:
// a driver resuming after a short transfer reslices the vector it was
// given in place (aio's advance), so a retry starts from the requests.
func (j *job) rewind() {
	for i, r := range j.reqs {
		j.iov[i] = r.Buf
	}
}

func (s *Scheduler) worker() {
	defer s.done.Done()
	for j := range s.work {
		s.gate.enter()
		err := s.runWithRetry(j)
		s.gate.leave()
		s.complete(j, err)
		s.release(j)
	}
}

// runWithRetry retries what blktap retries (EAGAIN, EBUSY, EINTR), EBUSY
// at once and the others RetryGap apart, until Timeout.
func (s *Scheduler) runWithRetry(j *job) error { return s.retry(j, s.run(j)) }

// retry goes on from a first attempt that returned err.
func (s *Scheduler) retry(j *job, err error) error {
	first := j.reqs[0]
	for {
		if err == nil || !retryable(err) || time.Since(first.Submitted) >= s.cfg.Timeout {
			return err
		}
		s.stats.Retries.Add(1)
		for _, r := range j.reqs {
			r.Retries++
		}
		if disk.Errno(err) != syscall.EBUSY {
			time.Sleep(s.cfg.RetryGap)
		}
		j.rewind()
		err = s.run(j)
	}
}

func retryable(err error) bool {
	switch disk.Errno(err) {
	case syscall.EAGAIN, syscall.EBUSY, syscall.EINTR:
		return true
	}
	return false
}

// run performs one job's I/O.
func (s *Scheduler) run(j *job) error {
	r := j.reqs[0]
	d := s.drv
	fua := r.Flags&ring.FUA != 0
	switch r.Op {
	case ring.Read:
		return d.ReadV(j.iov, r.Offset)
	case ring.Write:
		return s.durable(d.WriteV(j.iov, r.Offset, fua && s.nativeFUA), fua && !s.nativeFUA)
	case ring.Flush:
		return d.Flush()
	case ring.Trim:
		return s.durable(d.Trim(r.Offset, r.Length), fua)
	case ring.WriteZeroes:
		return s.durable(d.WriteZeroes(r.Offset, r.Length, r.Flags&ring.NoHole != 0, r.Flags&ring.FastZero != 0), fua)
	case ring.Cache:
		return nil // every driver reads through its own cache or the disk's
	case ring.BlockStatus:
		var err error
		r.Extents, err = d.Extents(r.Extents[:0], r.Offset, r.Length)
		return err
	}
	return syscall.EINVAL
}

// durable emulates FUA, the one place that does: after an operation
// that succeeded, a flush when emulate says the driver did not make it
// durable itself.
func (s *Scheduler) durable(err error, emulate bool) error {
	if err == nil && emulate {
		return s.drv.Flush()
	}
	return err
}

// complete splits a job back into its requests and completes each.
func (s *Scheduler) complete(j *job, err error) {
	now := time.Now()
	first, last := j.reqs[0], j.reqs[len(j.reqs)-1]
	if err != nil && !expected(first.Op, err) && s.cfg.Failed != nil {
		s.cfg.Failed(first.Op, first.Offset, last.Offset+last.Length-first.Offset, err)
	}
	for _, r := range j.reqs {
		r.Err = err
		switch {
		case err != nil:
			s.stats.Failed(r.Op == ring.Read, r.Op == ring.Write)
			if !expected(r.Op, err) && s.failLog.Allow() {
				s.cfg.Logger.Warn("request failed", "op", r.Op.String(), "offset", r.Offset, "length", r.Length, "err", err)
			}
		case r.Op == ring.Read || r.Op == ring.Write:
			s.stats.Done(r.Op == ring.Write, r.Length, now.Sub(r.Submitted))
		case r.Op == ring.Flush:
			s.stats.Flushes.Add(1)
		case r.Op == ring.Trim:
			s.stats.Trims.Add(1)
		case r.Op == ring.WriteZeroes:
			s.stats.Zeroes.Add(1)
		case r.Op == ring.BlockStatus:
			s.stats.BlockStatus.Add(1)
		}
		s.stats.InFlight.Add(-1)
		r.SetInFlight(false)
		r.Owner.Complete(r)
	}
}

// expected tells a failure that is part of the protocol from a fault: a
// write-zeroes the driver cannot do fast (EOPNOTSUPP) makes the frontend
// write zeros instead.
func expected(op ring.Op, err error) bool {
	return op == ring.WriteZeroes && disk.Errno(err) == syscall.EOPNOTSUPP
}
