package vbd

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers"
	"gotap.dev/libtap/ring"
)

// chanCompleter hands completed requests back over a channel.
type chanCompleter chan *ring.Request

func (c chanCompleter) Complete(r *ring.Request) { c <- r }

func rawFile(t testing.TB, size int64) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "disk.raw")
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(p, size); err != nil {
		t.Fatal(err)
	}
	return p
}

func testOptions() Options {
	return Options{RingSlots: 16, SlotBuf: 64 << 10, ReopenTries: 1, ReopenGap: time.Millisecond}
}

// do submits one request and waits for it.
func do(t testing.TB, v *VBD, op ring.Op, off int64, data []byte) *ring.Request {
	t.Helper()
	done := make(chanCompleter, 1)
	req, err := v.Ring().Get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	req.Op, req.Offset, req.Length, req.Owner = op, off, int64(len(data)), done
	if op == ring.Read || op == ring.Write {
		copy(req.Data(len(data)), data)
	}
	v.Submit(req)
	r := <-done
	if r.Op == ring.Read {
		copy(data, r.Buf)
	}
	return r
}

func TestReadWriteEveryDriver(t *testing.T) {
	for _, spec := range []string{"ram:4M", "aio:" + rawFile(t, 4<<20)} {
		t.Run(spec[:3], func(t *testing.T) {
			v, err := Open(0, spec, testOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close(context.Background())
			want := bytes.Repeat([]byte("gotap!!!"), 1024)
			if r := do(t, v, ring.Write, 8192, want); r.Err != nil {
				t.Fatalf("write: %v", r.Err)
			}
			v.Ring().Put(do(t, v, ring.Flush, 0, nil))
			got := make([]byte, len(want))
			if r := do(t, v, ring.Read, 8192, got); r.Err != nil {
				t.Fatalf("read: %v", r.Err)
			}
			if !bytes.Equal(got, want) {
				t.Fatal("read back differs from what was written")
			}
			if r := do(t, v, ring.Read, 4<<20-512, make([]byte, 1024)); !errors.Is(r.Err, syscall.ENOSPC) {
				t.Errorf("read past the end: err = %v; want ENOSPC", r.Err)
			}
		})
	}
}

func TestPauseHoldsRequestsAndResumeGrowsOnly(t *testing.T) {
	path := rawFile(t, 1<<20)
	v, err := Open(3, "aio:"+path, testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	ctx := context.Background()
	if err := v.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if v.State()&wire.Paused == 0 {
		t.Fatalf("state after pause = %v", v.State())
	}
	done := make(chanCompleter, 1)
	req, _ := v.Ring().Get(ctx)
	req.Op, req.Offset, req.Length, req.Owner = ring.Write, 0, 512, done
	copy(req.Data(512), bytes.Repeat([]byte{0xAB}, 512))
	v.Submit(req)
	select {
	case r := <-done:
		t.Fatalf("request completed while paused: err=%v", r.Err)
	case <-time.After(100 * time.Millisecond):
	}

	smaller := rawFile(t, 512<<10)
	if err := v.Resume(ctx, "aio:"+smaller); !errors.Is(err, syscall.EMEDIUMTYPE) {
		t.Fatalf("resume on a smaller image: err = %v; want EMEDIUMTYPE", err)
	}
	if st := v.State(); st&wire.Paused == 0 || st&wire.ResumeFailed == 0 {
		t.Fatalf("state after refused resume = %v; want paused|resume-failed", st)
	}
	same := rawFile(t, 1<<20)
	if err := v.Resume(ctx, "aio:"+same); err != nil {
		t.Fatal(err)
	}
	if r := <-done; r.Err != nil {
		t.Fatalf("held request failed after resume: %v", r.Err)
	}
	if v.Spec() != "aio:"+same || v.State() != 0 {
		t.Errorf("after resume: spec %q state %v", v.Spec(), v.State())
	}
	b, _ := os.ReadFile(same)
	if b[0] != 0xAB {
		t.Error("the held write did not reach the image resumed on")
	}

	// A chain that grew while paused is taken at its new size.
	if err := v.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(same, 2<<20); err != nil {
		t.Fatal(err)
	}
	if err := v.Resume(ctx, ""); err != nil {
		t.Fatalf("resume on the grown image: %v", err)
	}
	if v.Size() != 2<<20 || v.Info().Size != 2<<20 {
		t.Errorf("size after growing = %d (info %d); want %d", v.Size(), v.Info().Size, 2<<20)
	}
	if r := do(t, v, ring.Write, 1<<20, make([]byte, 4096)); r.Err != nil {
		t.Errorf("write into the grown part: %v", r.Err)
	}
}

func TestMergesAdjacentWrites(t *testing.T) {
	v, err := Open(0, "ram:4M", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	ctx := context.Background()
	// Pause so that all requests queue up, then resume: the scheduler
	// sees them together and merges the adjacent ones.
	v.Pause(ctx)
	done := make(chanCompleter, 8)
	for i := range 8 {
		req, _ := v.Ring().Get(ctx)
		req.Op, req.Offset, req.Length, req.Owner = ring.Write, int64(i)*4096, 4096, done
		req.Data(4096)
		v.Submit(req)
	}
	v.Resume(ctx, "ram:4M")
	for range 8 {
		if r := <-done; r.Err != nil {
			t.Fatal(r.Err)
		}
	}
	if m := v.Counters().Merges.Load(); m == 0 {
		t.Error("no merges counted for 8 adjacent queued writes")
	}
}

// requestPaths are the chains the request path is measured on: the ram
// driver bare, and under the filter stack with nothing to do (no limit,
// no fault, no delay), whose cost must stay under 5% of the bare path's.
var requestPaths = []struct{ name, spec string }{
	{"bare", "ram:64M"},
	{"filtered", "valve::error:rate=0:delay::ram:64M"},
}

// BenchmarkRequestPath measures a 4 KiB read through ring, scheduler and
// the ram driver: it must allocate nothing.
func BenchmarkRequestPath(b *testing.B) {
	for _, p := range requestPaths {
		b.Run(p.name, func(b *testing.B) { benchRequestPath(b, p.spec) })
	}
}

func benchRequestPath(b *testing.B, spec string) {
	opts := testOptions()
	opts.Logger = slog.New(slog.DiscardHandler) // no log lines amid the results
	v, err := Open(0, spec, opts)
	if err != nil {
		b.Fatal(err)
	}
	defer v.Close(context.Background())
	done := make(chanCompleter, 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		req, _ := v.Ring().Get(ctx)
		req.Op, req.Offset, req.Length, req.Owner = ring.Read, 4096, 4096, done
		req.Data(4096)
		v.Submit(req)
		v.Ring().Put(<-done)
	}
}

func TestRequestPathAllocatesNothing(t *testing.T) {
	for _, p := range requestPaths {
		r := testing.Benchmark(func(b *testing.B) { benchRequestPath(b, p.spec) })
		if a := r.AllocsPerOp(); a != 0 {
			t.Errorf("request path %s: %d allocs/op; want 0", p.name, a)
		}
	}
}

// blocking holds every read until release is closed, and tells entered
// (if it has room) when one starts.
type blocking struct {
	disk.Driver
	entered chan struct{}
	release chan struct{}
}

func (b *blocking) ReadV(bufs [][]byte, off int64) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return b.Driver.ReadV(bufs, off)
}

// TestWatchdogLogsStuckRequests: a request the driver holds past
// StuckAfter is logged, once per StuckAfter, and still completes.
func TestWatchdogLogsStuckRequests(t *testing.T) {
	var logs syncBuffer
	release := make(chan struct{})
	opts := testOptions()
	opts.StuckAfter = 50 * time.Millisecond
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	opts.OpenDriver = func(spec string, o drivers.Options) (disk.Driver, error) {
		d, err := drivers.Open(spec, o)
		return &blocking{Driver: d, release: release}, err
	}
	v, err := Open(0, "ram:1M", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	done := make(chanCompleter, 1)
	req, _ := v.Ring().Get(context.Background())
	req.Op, req.Offset, req.Length, req.Owner = ring.Read, 0, 4096, done
	req.Data(4096)
	v.Submit(req)
	time.Sleep(300 * time.Millisecond)
	close(release)
	if r := <-done; r.Err != nil {
		t.Fatal(r.Err)
	}
	if n := strings.Count(logs.String(), `msg="requests stuck" minor=0 count=1`); n < 1 || n > 6 {
		t.Errorf("watchdog logged a stuck request %d times in 300 ms with StuckAfter 50 ms:\n%s", n, logs.String())
	}
}

// syncBuffer is a bytes.Buffer safe for the logger's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
