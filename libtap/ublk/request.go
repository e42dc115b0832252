package ublk

import (
	"errors"
	"syscall"

	"gotap.dev/libtap/ring"
)

// fill makes req the request d describes, its data in buf (the tag's
// buffer, where the kernel copied a write's data and copies a read's
// back from at the commit). It refuses what the VBD has no operation
// for (zoned commands, WRITE_SAME) and what does not fit the buffer
// (the kernel splits requests to the max_sectors it was given).
func fill(req *ring.Request, d desc, buf []byte) syscall.Errno {
	req.Offset, req.Length = int64(d.start)*512, int64(d.sectors)*512
	switch d.op() {
	case opRead, opWrite:
		if req.Length > int64(len(buf)) {
			return syscall.EINVAL
		}
		req.Op, req.Buf = ring.Read, buf[:req.Length]
		if d.op() == opWrite {
			req.Op = ring.Write
		}
	case opFlush:
		req.Op = ring.Flush
	case opDiscard:
		req.Op = ring.Trim
	case opWriteZeroes:
		req.Op = ring.WriteZeroes
		if d.opFlags&flagNoUnmap != 0 {
			req.Flags |= ring.NoHole
		}
	default:
		return syscall.EOPNOTSUPP
	}
	if d.opFlags&flagFUA != 0 {
		req.Flags |= ring.FUA
	}
	return 0
}

// result is what a completed request commits: the bytes moved for a
// read or a write (the kernel ends the request by that many bytes, and
// reissues a write committed with 0), 0 for the others, or -errno.
func result(req *ring.Request) int32 {
	if req.Err != nil {
		var errno syscall.Errno
		if !errors.As(req.Err, &errno) || errno == 0 {
			errno = syscall.EIO
		}
		return -int32(errno)
	}
	if req.Op == ring.Read || req.Op == ring.Write {
		return int32(req.Length)
	}
	return 0
}
