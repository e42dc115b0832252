package sched

import (
	"context"
	"errors"
	"testing"
	"time"

	"gotap.dev/libtap/drivers/ram"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/stats"
)

// TestPauseWaitsUntilItsDeadline: Pause waits for the driver operation in
// progress; if that operation outlasts Pause's context, Pause gives up
// with the context's error and the scheduler goes on running requests,
// instead of holding them behind a pause nobody waits for any more.
func TestPauseWaitsUntilItsDeadline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline time.Duration
		finishes bool // the read in progress ends while Pause waits
		want     error
	}{
		{"operation finishes: paused", 10 * time.Second, true, nil},
		{"operation hangs: gives up", 50 * time.Millisecond, false, context.DeadlineExceeded},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, _ := ram.Open("1M", false)
			drv := &slow{Driver: mem, release: make(chan struct{})}
			var st stats.Counters
			s := New(drv, &st, 4, Config{Depth: 2})
			rg := ring.New(4, 4096)
			done := make(chanCompleter, 4)
			submit := func(op ring.Op, off int64) {
				req, _ := rg.Get(t.Context())
				req.Op, req.Offset, req.Length, req.Owner = op, off, 4096, done
				req.Data(4096)
				s.Submit(req)
			}
			submit(ring.Read, 0) // held by the driver until released
			for st.InFlight.Load() == 0 || running(drv) == 0 {
				time.Sleep(time.Millisecond)
			}
			if tc.finishes {
				time.AfterFunc(50*time.Millisecond, func() { drv.release <- struct{}{} })
			}
			ctx, cancel := context.WithTimeout(t.Context(), tc.deadline)
			defer cancel()
			start := time.Now()
			d, err := s.Pause(ctx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Pause = %v; want %v", err, tc.want)
			}
			if took := time.Since(start); took > tc.deadline+time.Second {
				t.Errorf("Pause took %v with a %v deadline", took, tc.deadline)
			}
			if tc.finishes {
				<-done // the read Pause waited for
			}
			submit(ring.Write, 8192)
			select {
			case <-done:
				if tc.want == nil {
					t.Fatal("a write completed while paused")
				}
				drv.release <- struct{}{} // the read that hangs
				<-done
			case <-time.After(100 * time.Millisecond):
				if tc.want != nil {
					t.Fatal("a write waits after a Pause that gave up")
				}
				s.Resume(d)
				<-done
			}
			s.Stop()
		})
	}
}

func running(s *slow) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running
}
