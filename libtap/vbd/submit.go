package vbd

import (
	"syscall"

	"gotap.dev/libtap/ring"
)

// sector is the alignment every request's range keeps, except that the
// last bytes of a disk whose size is not a multiple of it are reachable.
const sector = 512

// Submit validates a request and queues it; invalid ones complete at once
// with EINVAL (misaligned, empty, unknown), ENOSPC (past the end) or EROFS,
// and every request once Close has begun with ENXIO. Every request
// completes through its Owner, exactly once. Submit is the one place
// these rules live: frontends and drivers rely on it.
func (v *VBD) Submit(req *ring.Request) {
	v.fence.RLock()
	err := v.check(req)
	if err == nil {
		v.sched.Submit(req) // never blocks: the queue holds the whole ring
	}
	v.fence.RUnlock()
	// Completed outside the fence: an Owner that blocks in Complete must
	// not hold up Close.
	if err != nil {
		req.Err = err
		v.stats.Errors.Add(1) // refused: it reached no image (see stats.Counters)
		req.Owner.Complete(req)
	}
}

// SubmitBatch is Submit for requests that arrived together (a frontend
// read several from one socket read): those that pass the checks reach
// the driver as one burst, which on io_uring is one system call. The
// VBD reorders reqs, a frontend's own array, and is done with it on
// return.
func (v *VBD) SubmitBatch(reqs []*ring.Request) {
	v.fence.RLock()
	ok := 0 // the first ok requests passed the checks
	for i, req := range reqs {
		if req.Err = v.check(req); req.Err == nil {
			reqs[ok], reqs[i] = reqs[i], reqs[ok]
			ok++
		}
	}
	refused := reqs[ok:] // untouched once the rest is submitted
	v.sched.SubmitBatch(reqs[:ok])
	v.fence.RUnlock()
	for _, req := range refused {
		v.stats.Errors.Add(1)
		req.Owner.Complete(req)
	}
}

// check judges a request; the caller holds the fence.
func (v *VBD) check(req *ring.Request) error {
	if v.closed {
		return syscall.ENXIO
	}
	switch req.Op {
	case ring.Flush:
		return nil
	case ring.Read, ring.Cache, ring.BlockStatus:
	case ring.Write, ring.Trim, ring.WriteZeroes:
		// The chain checked against may be replaced by Resume before the
		// request runs; the chains a resume may open read-only refuse
		// writes below this layer too (an O_RDONLY file, a read-only
		// VHD, a read-only NBD server).
		if v.chain.Load().caps.ReadOnly {
			return syscall.EROFS
		}
	default:
		return syscall.EINVAL
	}
	off, n := req.Offset, req.Length
	if off < 0 || n <= 0 {
		return syscall.EINVAL
	}
	size := v.Size()
	if off > size || n > size-off {
		return syscall.ENOSPC
	}
	// A block status is a query: any range is fine.
	if req.Op != ring.BlockStatus && (off%sector != 0 || (n%sector != 0 && off+n != size)) {
		return syscall.EINVAL
	}
	if (req.Op == ring.Read || req.Op == ring.Write) && int64(len(req.Buf)) != n {
		return syscall.EINVAL
	}
	return nil
}
