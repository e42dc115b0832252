package ublk

import (
	"errors"
	"fmt"
	"syscall"
	"testing"

	"gotap.dev/libtap/ring"
)

// TestFill: each operation and flag of the kernel's descriptors as the
// VBD's request, and what is refused.
func TestFill(t *testing.T) {
	buf := make([]byte, 64<<10)
	for _, tc := range []struct {
		name      string
		d         desc
		op        ring.Op
		flags     ring.Flags
		off, n    int64
		withData  bool
		wantErrno syscall.Errno
	}{
		{"read", desc{opFlags: opRead, sectors: 8, start: 16}, ring.Read, 0, 8192, 4096, true, 0},
		{"write", desc{opFlags: opWrite, sectors: 128, start: 0}, ring.Write, 0, 0, 64 << 10, true, 0},
		{"FUA write", desc{opFlags: opWrite | flagFUA, sectors: 1, start: 1}, ring.Write, ring.FUA, 512, 512, true, 0},
		{"flush", desc{opFlags: opFlush}, ring.Flush, 0, 0, 0, false, 0},
		{"discard", desc{opFlags: opDiscard, sectors: 1 << 16, start: 8}, ring.Trim, 0, 4096, 32 << 20, false, 0},
		{"write zeroes", desc{opFlags: opWriteZeroes, sectors: 16, start: 8}, ring.WriteZeroes, 0, 4096, 8192, false, 0},
		{"write zeroes, no unmap", desc{opFlags: opWriteZeroes | flagNoUnmap, sectors: 16}, ring.WriteZeroes, ring.NoHole, 0, 8192, false, 0},
		{"read past the buffer", desc{opFlags: opRead, sectors: 129}, 0, 0, 0, 0, false, syscall.EINVAL},
		{"write same", desc{opFlags: 4, sectors: 1}, 0, 0, 0, 0, false, syscall.EOPNOTSUPP},
		{"zone append", desc{opFlags: 13, sectors: 1}, 0, 0, 0, 0, false, syscall.EOPNOTSUPP},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var req ring.Request
			errno := fill(&req, tc.d, buf)
			if errno != tc.wantErrno {
				t.Fatalf("fill = %v; want %v", errno, tc.wantErrno)
			}
			if errno != 0 {
				return
			}
			if req.Op != tc.op || req.Flags != tc.flags || req.Offset != tc.off || req.Length != tc.n {
				t.Errorf("request %v flags %b at %d+%d; want %v %b at %d+%d", req.Op, req.Flags, req.Offset, req.Length, tc.op, tc.flags, tc.off, tc.n)
			}
			if tc.withData != (req.Buf != nil) || (req.Buf != nil && (int64(len(req.Buf)) != tc.n || &req.Buf[0] != &buf[0])) {
				t.Errorf("data %d bytes; want the tag's buffer: %v", len(req.Buf), tc.withData)
			}
		})
	}
}

// TestResult: what a completed request commits.
func TestResult(t *testing.T) {
	for _, tc := range []struct {
		name string
		req  *ring.Request
		want int32
	}{
		{"read", &ring.Request{Op: ring.Read, Length: 4096}, 4096},
		{"write", &ring.Request{Op: ring.Write, Length: 512 << 10}, 512 << 10},
		{"flush", &ring.Request{Op: ring.Flush}, 0},
		{"discard", &ring.Request{Op: ring.Trim, Length: 1 << 20}, 0},
		{"errno", &ring.Request{Op: ring.Write, Length: 512, Err: syscall.ENOSPC}, -int32(syscall.ENOSPC)},
		{"wrapped errno", &ring.Request{Op: ring.Read, Length: 512, Err: fmt.Errorf("vhd: %w", syscall.EROFS)}, -int32(syscall.EROFS)},
		{"no errno", &ring.Request{Op: ring.Read, Length: 512, Err: errors.New("broken")}, -int32(syscall.EIO)},
	} {
		if got := result(tc.req); got != tc.want {
			t.Errorf("%s: result = %d; want %d", tc.name, got, tc.want)
		}
	}
}
