package sched

import (
	"bytes"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/ram"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/stats"
)

// shortThenAgain moves the first half of the first buffer, advances the
// vector in place as a driver resuming a short transfer does, and then
// fails with EAGAIN; the next call is passed to the disk. It records the
// vector lengths each call was given.
type shortThenAgain struct {
	disk.Driver
	mu    sync.Mutex
	calls [][]int
}

func (d *shortThenAgain) io(write bool, bufs [][]byte, off int64) error {
	d.mu.Lock()
	lens := make([]int, len(bufs))
	for i, b := range bufs {
		lens[i] = len(b)
	}
	d.calls = append(d.calls, lens)
	first := len(d.calls) == 1
	d.mu.Unlock()
	if !first {
		if write {
			return d.Driver.WriteV(bufs, off, false)
		}
		return d.Driver.ReadV(bufs, off)
	}
	half := len(bufs[0]) / 2
	if write {
		if err := d.Driver.WriteV([][]byte{bufs[0][:half]}, off, false); err != nil {
			return err
		}
	} else if err := d.Driver.ReadV([][]byte{bufs[0][:half]}, off); err != nil {
		return err
	}
	bufs[0] = bufs[0][half:]
	return syscall.EAGAIN
}

func (d *shortThenAgain) ReadV(bufs [][]byte, off int64) error { return d.io(false, bufs, off) }
func (d *shortThenAgain) WriteV(bufs [][]byte, off int64, _ bool) error {
	return d.io(true, bufs, off)
}

// startedShortThenAgain is the same driver as a Starter.
type startedShortThenAgain struct{ *shortThenAgain }

func (d startedShortThenAgain) Unplug() {}

func (d startedShortThenAgain) StartV(write bool, bufs [][]byte, off int64, _, _ bool, done func(error)) bool {
	go func() { done(d.io(write, bufs, off)) }()
	return true
}

// TestRetryAfterShortTransfer: a retry after a short transfer starts
// again from the whole of every request's buffer, not from where the
// failed attempt had got to, on the workers' path and a Starter's.
func TestRetryAfterShortTransfer(t *testing.T) {
	for _, tc := range []struct {
		name    string
		started bool
		op      ring.Op
	}{
		{"worker read", false, ring.Read},
		{"worker write", false, ring.Write},
		{"started read", true, ring.Read},
		{"started write", true, ring.Write},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, err := ram.Open("1M", false)
			if err != nil {
				t.Fatal(err)
			}
			want := bytes.Repeat([]byte("0123456789abcdef"), 4096/16)
			if tc.op == ring.Read {
				if err := mem.WriteV([][]byte{want}, 8192, false); err != nil {
					t.Fatal(err)
				}
			}
			short := &shortThenAgain{Driver: mem}
			var drv disk.Driver = short
			if tc.started {
				drv = startedShortThenAgain{short}
			}
			var st stats.Counters
			s := New(drv, &st, 4, Config{Depth: 2, RetryGap: time.Millisecond})
			defer s.Stop()
			rg := ring.New(4, 4096)
			done := make(chanCompleter, 1)
			req, _ := rg.Get(t.Context())
			req.Op, req.Offset, req.Length, req.Owner = tc.op, 8192, 4096, done
			buf := req.Data(4096)
			if tc.op == ring.Write {
				copy(buf, want)
			}
			s.Submit(req)
			if r := <-done; r.Err != nil {
				t.Fatalf("err %v; want success after a retry", r.Err)
			}
			got := make([]byte, 4096)
			if tc.op == ring.Read {
				copy(got, buf)
			} else if err := mem.ReadV([][]byte{got}, 8192); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("data differs from what was written at 8192")
			}
			if len(short.calls) != 2 || short.calls[1][0] != 4096 {
				t.Errorf("driver given vectors of lengths %v; want the whole 4096 again on the retry", short.calls)
			}
		})
	}
}
