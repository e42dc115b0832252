package sched

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/ram"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/stats"
)

// starter is a Starter over a RAM disk: StartV runs the I/O on a
// goroutine, after the next queued error if any, once hold lets it go.
// It counts what is in the driver on either path.
type starter struct {
	disk.Driver
	hold  chan struct{} // nil: no holding
	mu    sync.Mutex
	fails []error
	busy  int // operations in the driver, started or called
	most  int
	start int // StartV calls that started
}

func (s *starter) enter() {
	s.mu.Lock()
	s.busy++
	s.most = max(s.most, s.busy)
	s.mu.Unlock()
	if s.hold != nil {
		<-s.hold
	}
}

func (s *starter) leave() (err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.busy--
	if len(s.fails) > 0 {
		err, s.fails = s.fails[0], s.fails[1:]
	}
	return err
}

func (s *starter) Unplug() {}

func (s *starter) StartV(write bool, bufs [][]byte, off int64, fua, _ bool, done func(error)) bool {
	s.mu.Lock()
	s.start++
	s.mu.Unlock()
	go func() {
		s.enter()
		if err := s.leave(); err != nil {
			done(err)
			return
		}
		if write {
			done(s.Driver.WriteV(bufs, off, fua))
			return
		}
		done(s.Driver.ReadV(bufs, off))
	}()
	return true
}

func (s *starter) ReadV(bufs [][]byte, off int64) error {
	s.enter()
	if err := s.leave(); err != nil {
		return err
	}
	return s.Driver.ReadV(bufs, off)
}

func newStarter(t *testing.T) *starter {
	mem, err := ram.Open("1M", false)
	if err != nil {
		t.Fatal(err)
	}
	return &starter{Driver: mem}
}

// submitN submits n 4 KiB reads (adjacent when adjacent is set).
func submitN(t *testing.T, s *Scheduler, rg *ring.Ring, done chanCompleter, n int, adjacent bool) {
	for i := range n {
		req, _ := rg.Get(t.Context())
		off := int64(i) * 4096
		if !adjacent {
			off *= 2
		}
		req.Op, req.Offset, req.Length, req.Owner = ring.Read, off, 4096, done
		req.Data(4096)
		s.Submit(req)
	}
}

// TestStarterRetries: an error worth a retry from a started operation is
// retried as the workers retry it.
func TestStarterRetries(t *testing.T) {
	drv := newStarter(t)
	drv.fails = []error{syscall.EAGAIN, syscall.EBUSY}
	var st stats.Counters
	s := New(drv, &st, 4, Config{Depth: 2, RetryGap: time.Millisecond})
	defer s.Stop()
	rg := ring.New(4, 4096)
	done := make(chanCompleter, 1)
	submitN(t, s, rg, done, 1, false)
	if r := <-done; r.Err != nil || r.Retries != 2 {
		t.Fatalf("err %v after %d retries; want success after 2", r.Err, r.Retries)
	}
	if drv.start != 1 || st.Retries.Load() != 2 {
		t.Errorf("%d started, %d retries; want 1 started, 2 retries", drv.start, st.Retries.Load())
	}
}

// TestStarterDepth: started and worker operations together stay within
// Depth; what queues behind is merged.
func TestStarterDepth(t *testing.T) {
	drv := newStarter(t)
	drv.hold = make(chan struct{})
	var st stats.Counters
	const depth, n = 4, 32
	s := New(drv, &st, n, Config{Depth: depth})
	defer s.Stop()
	rg := ring.New(n, 4096)
	done := make(chanCompleter, n)
	submitN(t, s, rg, done, n, true)
	for range n {
		select {
		case drv.hold <- struct{}{}:
		case r := <-done:
			rg.Put(r)
		}
	}
	close(drv.hold)
	for rg.InUse() > 0 {
		rg.Put(<-done)
	}
	if drv.most > depth {
		t.Errorf("%d operations in the driver at once; want at most %d", drv.most, depth)
	}
	if drv.start == 0 || drv.start == n || st.Merges.Load() == 0 {
		t.Errorf("%d of %d started, %d merges; want some started, the rest queued and merged", drv.start, n, st.Merges.Load())
	}
}

// TestStarterPause: Pause waits for started operations, and a request
// submitted while paused waits (it is neither started nor failed) until
// Resume.
func TestStarterPause(t *testing.T) {
	drv := newStarter(t)
	drv.hold = make(chan struct{})
	var st stats.Counters
	s := New(drv, &st, 4, Config{Depth: 2})
	defer s.Stop()
	rg := ring.New(4, 4096)
	done := make(chanCompleter, 4)
	submitN(t, s, rg, done, 1, false)
	paused := make(chan disk.Driver)
	go func() {
		d, err := s.Pause(context.Background())
		if err != nil {
			t.Error(err)
		}
		paused <- d
	}()
	select {
	case <-paused:
		t.Fatal("Pause returned with a started read in the driver")
	case <-time.After(50 * time.Millisecond):
	}
	drv.hold <- struct{}{}
	rg.Put(<-done)
	d := <-paused
	submitN(t, s, rg, done, 1, false)
	select {
	case r := <-done:
		t.Fatalf("a read completed while paused: %v", r.Err)
	case <-time.After(50 * time.Millisecond):
	}
	close(drv.hold)
	s.Resume(d)
	if r := <-done; r.Err != nil {
		t.Fatal(r.Err)
	}
	if drv.start != 1 {
		t.Errorf("%d reads started; want 1 (the one submitted while paused waits in the queue)", drv.start)
	}
}
