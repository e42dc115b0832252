package vbd

import (
	"syscall"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/ring"
)

// Submit validates a request and queues it; invalid ones complete at once
// with EINVAL (misaligned, inconsistent), ENOSPC (past the end) or EROFS,
// and every request once Close has begun with ENXIO. Every request
// completes through its Owner, exactly once.
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
		v.stats.Errors.Add(1)
		req.Owner.Complete(req)
	}
}

// check judges a request; the caller holds the fence.
func (v *VBD) check(req *ring.Request) error {
	if v.closed {
		return syscall.ENXIO
	}
	if req.Offset < 0 || req.Length < 0 {
		return syscall.EINVAL
	}
	if req.Op != ring.Flush && req.Offset+req.Length > v.size {
		return syscall.ENOSPC
	}
	switch req.Op {
	case ring.Read:
	case ring.Write, ring.Trim, ring.WriteZeroes:
		// The chain checked against may be replaced by Resume before the
		// request runs: the driver then refuses the write itself.
		if v.chain.Load().caps.ReadOnly {
			return syscall.EROFS
		}
	case ring.Flush:
		return nil
	default:
		return syscall.EINVAL
	}
	if (req.Op == ring.Read || req.Op == ring.Write) && int64(len(req.Buf)) != req.Length {
		return syscall.EINVAL
	}
	return nil
}

// Extents maps [off, off+n), waiting while paused. Once closed, the
// scheduler holds a stand-in driver that answers ENXIO (closed.go).
func (v *VBD) Extents(dst []disk.Extent, off, n int64) ([]disk.Extent, error) {
	if off < 0 || n < 0 || off+n > v.size {
		return dst, syscall.ENOSPC
	}
	err := v.sched.With(func(d disk.Driver) error {
		var err error
		dst, err = d.Extents(dst, off, n)
		return err
	})
	return dst, err
}
