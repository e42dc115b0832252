package sched

import (
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/ram"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/stats"
)

// faulty fails the next reads with the queued errors, then succeeds.
type faulty struct {
	disk.Driver
	mu    sync.Mutex
	fails []error
	calls int
}

func (f *faulty) ReadV(bufs [][]byte, off int64) error {
	f.mu.Lock()
	f.calls++
	var err error
	if len(f.fails) > 0 {
		err, f.fails = f.fails[0], f.fails[1:]
	}
	f.mu.Unlock()
	if err != nil {
		return err
	}
	return f.Driver.ReadV(bufs, off)
}

type chanCompleter chan *ring.Request

func (c chanCompleter) Complete(r *ring.Request) { c <- r }

func TestRetries(t *testing.T) {
	for _, tc := range []struct {
		name    string
		fails   []error
		timeout time.Duration
		want    error
		calls   int
		retries uint64
	}{
		{"success", nil, time.Minute, nil, 1, 0},
		{"EAGAIN then success", []error{syscall.EAGAIN, syscall.EAGAIN}, time.Minute, nil, 3, 2},
		{"EBUSY and EINTR retried", []error{syscall.EBUSY, syscall.EINTR}, time.Minute, nil, 3, 2},
		{"EIO fails at once", []error{syscall.EIO}, time.Minute, syscall.EIO, 1, 0},
		{"wrapped ENOSPC keeps its errno", []error{errors.Join(errors.New("vhd: full"), syscall.ENOSPC)}, time.Minute, syscall.ENOSPC, 1, 0},
		{"EAGAIN past the timeout", []error{syscall.EAGAIN, syscall.EAGAIN, syscall.EAGAIN, syscall.EAGAIN}, 15 * time.Millisecond, syscall.EAGAIN, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, _ := ram.Open("1M", false)
			drv := &faulty{Driver: mem, fails: tc.fails}
			var st stats.Counters
			s := New(drv, &st, 4, Config{Depth: 2, RetryGap: 10 * time.Millisecond, Timeout: tc.timeout})
			defer s.Stop()
			rg := ring.New(4, 4096)
			done := make(chanCompleter, 1)
			req, _ := rg.Get(t.Context())
			req.Op, req.Offset, req.Length, req.Owner = ring.Read, 0, 4096, done
			req.Data(4096)
			s.Submit(req)
			r := <-done
			if disk.Errno(r.Err) != disk.Errno(tc.want) || (tc.want == nil) != (r.Err == nil) {
				t.Fatalf("err = %v; want %v", r.Err, tc.want)
			}
			if tc.calls > 0 && drv.calls != tc.calls {
				t.Errorf("driver called %d times; want %d", drv.calls, tc.calls)
			}
			if tc.calls == 0 && drv.calls < 2 {
				t.Errorf("driver called %d times; want retries until the timeout", drv.calls)
			}
			if tc.calls > 0 && st.Retries.Load() != tc.retries {
				t.Errorf("retries = %d; want %d", st.Retries.Load(), tc.retries)
			}
			if (r.Err != nil) != (st.Errors.Load() == 1) {
				t.Errorf("errors counted = %d for err %v", st.Errors.Load(), r.Err)
			}
		})
	}
}

// slow holds every read until released, counting how many run at once.
type slow struct {
	disk.Driver
	mu            sync.Mutex
	running, peak int
	release       chan struct{}
}

func (s *slow) ReadV(bufs [][]byte, off int64) error {
	s.mu.Lock()
	s.running++
	s.peak = max(s.peak, s.running)
	s.mu.Unlock()
	<-s.release
	s.mu.Lock()
	s.running--
	s.mu.Unlock()
	return nil
}

// TestDepthBoundsDriverConcurrency: however many requests are queued, the
// driver never sees more than Depth at once, and every request completes.
func TestDepthBoundsDriverConcurrency(t *testing.T) {
	mem, _ := ram.Open("1M", false)
	drv := &slow{Driver: mem, release: make(chan struct{})}
	var st stats.Counters
	s := New(drv, &st, 64, Config{Depth: 3, MaxIovecs: 1})
	rg := ring.New(64, 4096)
	done := make(chanCompleter, 64)
	for i := range 64 {
		req, _ := rg.Get(t.Context())
		// Not adjacent: every request is its own driver operation.
		req.Op, req.Offset, req.Length, req.Owner = ring.Read, int64(i)*8192, 4096, done
		req.Data(4096)
		s.Submit(req)
	}
	go func() {
		for range 64 {
			drv.release <- struct{}{}
		}
	}()
	for range 64 {
		if r := <-done; r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	s.Stop()
	if drv.peak > 3 {
		t.Errorf("driver saw %d operations at once; want at most Depth=3", drv.peak)
	}
	if got := st.InFlight.Load(); got != 0 {
		t.Errorf("in flight after completion = %d", got)
	}
}
