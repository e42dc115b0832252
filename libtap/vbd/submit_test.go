package vbd

import (
	"context"
	"errors"
	"syscall"
	"testing"

	"gotap.dev/libtap/ring"
)

// TestCheck: Submit is where the range, alignment and read-only rules
// live, for every frontend; a disk whose size is not a multiple of 512
// keeps its last bytes reachable.
func TestCheck(t *testing.T) {
	const size = 1<<20 + 100
	for _, tc := range []struct {
		name     string
		readOnly bool
		op       ring.Op
		off, n   int64
		want     error
	}{
		{"read", false, ring.Read, 4096, 4096, nil},
		{"read of the unaligned tail", false, ring.Read, 1 << 20, 100, nil},
		{"read past the end", false, ring.Read, 1 << 20, 512, syscall.ENOSPC},
		{"write past the end", false, ring.Write, size - 100, 512, syscall.ENOSPC},
		{"negative offset", false, ring.Read, -512, 512, syscall.EINVAL},
		{"empty", false, ring.Trim, 0, 0, syscall.EINVAL},
		{"misaligned offset", false, ring.Write, 100, 512, syscall.EINVAL},
		{"misaligned length", false, ring.WriteZeroes, 0, 100, syscall.EINVAL},
		{"unknown op", false, ring.Op(99), 0, 512, syscall.EINVAL},
		{"block status, any range", false, ring.BlockStatus, 100, 1000, nil},
		{"block status past the end", false, ring.BlockStatus, 0, size + 1, syscall.ENOSPC},
		{"cache", false, ring.Cache, 0, 4096, nil},
		{"flush ignores the range", false, ring.Flush, -1, -1, nil},
		{"write, read-only", true, ring.Write, 0, 512, syscall.EROFS},
		{"trim, read-only", true, ring.Trim, 0, 512, syscall.EROFS},
		{"write-zeroes, read-only", true, ring.WriteZeroes, 0, 512, syscall.EROFS},
		{"read, read-only", true, ring.Read, 0, 512, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			opts.Drivers.ReadOnly = tc.readOnly
			v, err := Open(0, "aio:"+rawFile(t, size), opts)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close(context.Background())
			done := make(chanCompleter, 1)
			req, _ := v.Ring().Get(t.Context())
			req.Op, req.Offset, req.Length, req.Owner = tc.op, tc.off, tc.n, done
			if tc.op == ring.Read || tc.op == ring.Write {
				req.Data(int(max(tc.n, 0)))
			}
			v.Submit(req)
			r := <-done
			if !errors.Is(r.Err, tc.want) || (tc.want == nil) != (r.Err == nil) {
				t.Errorf("err = %v; want %v", r.Err, tc.want)
			}
			v.Ring().Put(r)
		})
	}
}

// TestBlockStatusThroughTheRing: a block status request is answered in
// its slot and counted like the other requests.
func TestBlockStatusThroughTheRing(t *testing.T) {
	v, err := Open(0, "ram:1M", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	r := mustComplete(t, submit(v, ring.BlockStatus, 0))
	if ext := r.Extents; r.Err != nil || len(ext) != 1 || ext[0].Length != 4096 || ext[0].Hole {
		t.Errorf("block status = %v, %v; want one data extent of 4 KiB", ext, r.Err)
	}
	v.Ring().Put(r)
	if n := v.Counters().BlockStatus.Load(); n != 1 {
		t.Errorf("block status counted %d times; want 1", n)
	}
}
