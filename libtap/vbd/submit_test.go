package vbd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
		for _, batch := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/batch=%v", tc.name, batch), func(t *testing.T) {
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
				if batch {
					v.SubmitBatch([]*ring.Request{req})
				} else {
					v.Submit(req)
				}
				r := <-done
				if !errors.Is(r.Err, tc.want) || (tc.want == nil) != (r.Err == nil) {
					t.Errorf("err = %v; want %v", r.Err, tc.want)
				}
				v.Ring().Put(r)
			})
		}
	}
}

// TestSubmitBatchMixed: in one batch, the requests the checks refuse
// complete with their errors and the others run, in a burst, each with
// its own data.
func TestSubmitBatchMixed(t *testing.T) {
	const size = 1 << 20
	v, err := Open(0, "aio:"+rawFile(t, size), testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	cases := []struct {
		op     ring.Op
		off, n int64
		want   error
	}{
		{ring.Write, 0, 4096, nil},
		{ring.Read, size, 512, syscall.ENOSPC},
		{ring.Write, 8192, 4096, nil},
		{ring.Write, 100, 512, syscall.EINVAL},
		{ring.Flush, 0, 0, nil},
		{ring.Write, 65536, 8192, nil},
	}
	done := make(chanCompleter, len(cases))
	var reqs []*ring.Request
	want := map[*ring.Request]error{}
	for i, c := range cases {
		req, _ := v.Ring().Get(t.Context())
		req.Op, req.Offset, req.Length, req.Owner = c.op, c.off, c.n, done
		if c.op == ring.Write {
			for j := range req.Data(int(c.n)) {
				req.Buf[j] = byte(i + 1)
			}
		}
		reqs = append(reqs, req)
		want[req] = c.want
	}
	v.SubmitBatch(reqs)
	for range cases {
		r := <-done
		if w := want[r]; !errors.Is(r.Err, w) || (w == nil) != (r.Err == nil) {
			t.Errorf("%v at %d: err = %v; want %v", r.Op, r.Offset, r.Err, w)
		}
		v.Ring().Put(r)
	}
	for i, c := range cases {
		if c.op != ring.Write || c.want != nil {
			continue
		}
		for off := c.off; off < c.off+c.n; off += 4096 {
			r := mustComplete(t, submit(v, ring.Read, off))
			if r.Err != nil || !bytes.Equal(r.Buf, bytes.Repeat([]byte{byte(i + 1)}, 4096)) {
				t.Errorf("read at %d: err %v, or not what the write at %d wrote", off, r.Err, c.off)
			}
			v.Ring().Put(r)
		}
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
