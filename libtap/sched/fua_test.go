package sched

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/ram"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/stats"
)

// recorder logs the calls that reach the driver, and claims the FUA
// support it is given.
type recorder struct {
	disk.Driver
	fua   disk.Support
	mu    sync.Mutex
	calls []string
}

func (r *recorder) log(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, s)
}

func (r *recorder) Caps() disk.Caps {
	c := r.Driver.Caps()
	c.FUA = r.fua
	return c
}

func (r *recorder) WriteV(bufs [][]byte, off int64, fua bool) error {
	r.log(fmt.Sprintf("write fua=%v", fua))
	return r.Driver.WriteV(bufs, off, fua)
}

func (r *recorder) Flush() error {
	r.log("flush")
	return r.Driver.Flush()
}

func (r *recorder) Trim(off, n int64) error {
	r.log("trim")
	return r.Driver.Trim(off, n)
}

func (r *recorder) WriteZeroes(off, n int64, noHole, fastZero bool) error {
	r.log("zeroes")
	return r.Driver.WriteZeroes(off, n, noHole, fastZero)
}

// TestFUA: a FUA request reaches a driver with native FUA as it is, and
// one without it as the operation and then a flush.
func TestFUA(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fua   disk.Support
		op    ring.Op
		flags ring.Flags
		want  []string
	}{
		{"write, native", disk.Native, ring.Write, ring.FUA, []string{"write fua=true"}},
		{"write, emulated", disk.Emulated, ring.Write, ring.FUA, []string{"write fua=false", "flush"}},
		{"write without FUA", disk.Emulated, ring.Write, 0, []string{"write fua=false"}},
		{"trim, native", disk.Native, ring.Trim, ring.FUA, []string{"trim", "flush"}},
		{"write-zeroes, emulated", disk.Emulated, ring.WriteZeroes, ring.FUA, []string{"zeroes", "flush"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, _ := ram.Open("1M", false)
			drv := &recorder{Driver: mem, fua: tc.fua}
			var st stats.Counters
			s := New(drv, &st, 1, Config{})
			defer s.Stop()
			rg := ring.New(1, 4096)
			done := make(chanCompleter, 1)
			req, _ := rg.Get(t.Context())
			req.Op, req.Flags, req.Offset, req.Length, req.Owner = tc.op, tc.flags, 0, 4096, done
			if tc.op == ring.Write {
				req.Data(4096)
			}
			s.Submit(req)
			if r := <-done; r.Err != nil {
				t.Fatal(r.Err)
			}
			if !slices.Equal(drv.calls, tc.want) {
				t.Errorf("driver calls %q; want %q", drv.calls, tc.want)
			}
		})
	}
}
