package ring

import (
	"context"
	"errors"
	"testing"
	"time"
	"unsafe"
)

func aligned(b []byte) bool {
	return len(b) > 0 && uintptr(unsafe.Pointer(&b[0]))%Alignment == 0
}

// Back-pressure: a full ring makes Get wait until a slot comes back or
// the caller gives up.
func TestGetWaitsWhileFull(t *testing.T) {
	r := New(3, 8192)
	var taken []*Request
	for range r.Cap() {
		req, err := r.Get(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, req)
	}
	if r.InUse() != 3 {
		t.Fatalf("InUse = %d after taking every slot; want 3", r.InUse())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := r.Get(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Get on a full ring = %v; want it to wait for the deadline", err)
	}
	got := make(chan *Request)
	go func() {
		req, _ := r.Get(context.Background())
		got <- req
	}()
	r.Put(taken[1])
	select {
	case req := <-got:
		if req != taken[1] {
			t.Error("the waiting Get did not receive the slot put back")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Get still waiting after a Put")
	}
}

func TestSlotsAndData(t *testing.T) {
	const slot = 8192
	r := New(4, slot)
	seen := map[*byte]bool{}
	r.Each(func(req *Request) {
		if !aligned(req.own) || len(req.own) != slot || cap(req.own) != slot {
			t.Errorf("slot buffer: aligned=%v len=%d cap=%d; want aligned, %d", aligned(req.own), len(req.own), cap(req.own), slot)
		}
		if seen[&req.own[0]] {
			t.Error("two slots share a buffer")
		}
		seen[&req.own[0]] = true
	})
	req, _ := r.Get(context.Background())
	tests := []struct {
		name     string
		n        int
		borrowed bool
	}{
		{"one sector", 512, false},
		{"the slot's size", slot, false},
		{"larger than the slot", slot + 512, true},
		{"the largest request", MaxRequest, true},
	}
	for _, tt := range tests {
		b := req.Data(tt.n)
		if len(b) != tt.n || len(req.Buf) != tt.n || !aligned(b) {
			t.Errorf("%s: Data(%d) len %d, Buf len %d, aligned %v", tt.name, tt.n, len(b), len(req.Buf), aligned(b))
		}
		if own := &b[0] == &req.own[0]; own == tt.borrowed {
			t.Errorf("%s: from the slot's own buffer = %v; want %v", tt.name, own, !tt.borrowed)
		}
		r.Put(req)
		req, _ = r.Get(context.Background())
	}
}

// Put leaves nothing of the last request in the slot.
func TestPutResets(t *testing.T) {
	r := New(1, 4096)
	req, _ := r.Get(context.Background())
	req.Op, req.Flags, req.Offset, req.Length = Write, FUA, 4096, 512
	req.Data(512)
	req.Err, req.Cookie, req.Retries = errors.New("x"), 7, 2
	req.Submitted = time.Now()
	req.SetInFlight(true)
	if !req.InFlight() {
		t.Fatal("SetInFlight(true) did not mark the request")
	}
	if at, ok := req.InFlightSince(); !ok || !at.Equal(req.Submitted.Truncate(0)) {
		t.Errorf("InFlightSince = %v, %v; want %v", at, ok, req.Submitted)
	}
	req.SetInFlight(false)
	r.Put(req)
	req, _ = r.Get(context.Background())
	if req.Op != Read || req.Flags != 0 || req.Offset != 0 || req.Length != 0 || req.Buf != nil ||
		req.Err != nil || req.Cookie != 0 || req.Retries != 0 || !req.Submitted.IsZero() || req.InFlight() {
		t.Errorf("slot after Put: %+v", req)
	}
}

// The request path allocates nothing in steady state: Get, Data (within
// the slot, or a pooled larger buffer), Put.
func TestNoAllocation(t *testing.T) {
	r := New(2, 128<<10)
	ctx := context.Background()
	for _, n := range []int{64 << 10, 1 << 20} {
		allocs := testing.AllocsPerRun(1000, func() {
			req, _ := r.Get(ctx)
			req.Data(n)
			r.Put(req)
		})
		if allocs != 0 {
			t.Errorf("%d-byte request: %v allocations; want 0", n, allocs)
		}
	}
}

func TestOpNames(t *testing.T) {
	for op, want := range map[Op]string{Read: "read", Write: "write", Flush: "flush", Trim: "trim", WriteZeroes: "write-zeroes", Op(99): "op?"} {
		if got := op.String(); got != want {
			t.Errorf("Op(%d) = %q; want %q", op, got, want)
		}
	}
}
