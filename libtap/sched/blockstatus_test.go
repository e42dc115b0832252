package sched

import (
	"context"
	"slices"
	"testing"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/ram"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/stats"
)

// TestBlockStatus: the allocation map is a request like the others: it
// waits while paused, fills the slot's extents and is counted.
func TestBlockStatus(t *testing.T) {
	mem, _ := ram.Open("1M", false)
	var st stats.Counters
	s := New(mem, &st, 1, Config{})
	defer s.Stop()
	drv, err := s.Pause(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	rg := ring.New(1, 4096)
	done := make(chanCompleter, 1)
	req, _ := rg.Get(t.Context())
	req.Op, req.Offset, req.Length, req.Owner = ring.BlockStatus, 4096, 8192, done
	s.Submit(req)
	select {
	case <-done:
		t.Fatal("block status answered while paused")
	case <-time.After(50 * time.Millisecond):
	}
	s.Resume(drv)
	r := <-done
	want := []disk.Extent{{Offset: 4096, Length: 8192}}
	if r.Err != nil || !slices.Equal(r.Extents, want) {
		t.Errorf("extents %v, %v; want %v", r.Extents, r.Err, want)
	}
	if n := st.BlockStatus.Load(); n != 1 {
		t.Errorf("block status counted %d times; want 1", n)
	}
}
