package slowopen

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"
)

// TestDo: an open that answers in time gives its result; one that does
// not fails with ETIMEDOUT, refuses the next open with EBUSY while it is
// pending, and has its late result closed.
func TestDo(t *testing.T) {
	var g Guard
	ctx := context.Background()
	quick := func() (int, error) { return 7, nil }
	if v, err := Do(ctx, &g, time.Second, "quick", quick, func(int) {}); v != 7 || err != nil {
		t.Fatalf("quick open = %d, %v", v, err)
	}
	failing := func() (int, error) { return 0, syscall.ENOENT }
	if _, err := Do(ctx, &g, time.Second, "missing", failing, func(int) {}); !errors.Is(err, syscall.ENOENT) {
		t.Fatalf("failing open = %v; want its error", err)
	}

	release, closed := make(chan struct{}), make(chan int, 1)
	hung := func() (int, error) { <-release; return 9, nil }
	start := time.Now()
	_, err := Do(ctx, &g, 50*time.Millisecond, "fifo", hung, func(v int) { closed <- v })
	if !errors.Is(err, syscall.ETIMEDOUT) || !errors.Is(err, ErrGaveUp) {
		t.Fatalf("hung open = %v; want ETIMEDOUT", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("hung open returned after %v; want about 50ms", took)
	}
	if _, err := Do(ctx, &g, time.Second, "again", quick, func(int) {}); !errors.Is(err, syscall.EBUSY) || !errors.Is(err, ErrLate) {
		t.Fatalf("open while one is late = %v; want EBUSY", err)
	}
	close(release)
	select {
	case v := <-closed:
		if v != 9 {
			t.Errorf("closed %d; want the late result 9", v)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("late result not closed")
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := Do(ctx, &g, time.Second, "after", quick, func(int) {})
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("open after the late one returned: %v", err)
		}
		time.Sleep(time.Millisecond)
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	failed := func() (int, error) { <-time.After(20 * time.Millisecond); return 0, syscall.EIO }
	if _, err := Do(cctx, &g, 0, "cancelled", failed, func(int) { t.Error("a failed open was closed") }); !errors.Is(err, context.Canceled) {
		t.Errorf("open with a cancelled context = %v; want Canceled", err)
	}
	time.Sleep(50 * time.Millisecond)
}
