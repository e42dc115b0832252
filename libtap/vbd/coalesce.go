package vbd

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"syscall"
	"time"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/disk"
)

// job is a coalesce running beside the requests: Pause and Close cancel
// it and wait for done before they close the chain it copies within.
type job struct {
	cancel        context.CancelFunc
	done          chan struct{}
	copied, total atomic.Int64 // bytes, for Info
}

func (j *job) progress(done, total int64) {
	j.copied.Store(done)
	j.total.Store(total)
}

// ErrInterrupted: a pause or close stopped a coalesce before it relinked
// the chain. What it copied is harmless (the layer below now holds data
// the layers above it hold too); running it again finishes the work.
var ErrInterrupted = errors.New("coalesce interrupted by a pause or close")

// Coalesce merges layers top..base-1 of the chain into layer base while
// the disk serves, then pauses only to drop them from the chain (the
// layer above them is pointed at base) and resumes on the same image:
// the frontends see one short stall, never an error. The merged images
// are left on disk for the caller, who knows whether anything else uses
// them. It fails with EOPNOTSUPP on a chain that cannot do it (not vhd),
// EBUSY when a coalesce already runs, and ErrInterrupted when a pause or
// close comes first.
func (v *VBD) Coalesce(ctx context.Context, top, base int) (wire.Coalesced, error) {
	c, j, err := v.startJob(ctx)
	if err != nil {
		return wire.Coalesced{}, err
	}
	jctx, stop := context.WithCancel(ctx)
	defer stop()
	j.cancel = stop
	commit, err := c.Commit(jctx, top, base, j.progress)
	close(j.done)
	if err != nil {
		v.endJob(j)
		if jctx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("%w: %w", ErrInterrupted, err)
		}
		return wire.Coalesced{}, fmt.Errorf("coalesce: %w", err)
	}
	res := wire.Coalesced{Sectors: commit.Sectors, Merged: commit.Merged}
	res.Paused, err = v.relink(ctx, j, commit.Relink)
	return res, err
}

// startJob registers a coalesce on the chain served now.
func (v *VBD) startJob(ctx context.Context) (disk.Committer, *job, error) {
	if err := v.lock(ctx); err != nil {
		return nil, nil, fmt.Errorf("coalesce: %w", err)
	}
	defer v.unlock()
	switch {
	case v.closed || v.served == nil:
		return nil, nil, fmt.Errorf("coalesce: the disk is paused or closed: %w", syscall.EBUSY)
	case v.job.Load() != nil:
		return nil, nil, fmt.Errorf("coalesce: one is running already: %w", syscall.EBUSY)
	}
	c, ok := disk.Find[disk.Committer](v.served)
	if !ok {
		return nil, nil, fmt.Errorf("coalesce: %s cannot merge its layers live: %w", v.Spec(), syscall.EOPNOTSUPP)
	}
	j := &job{done: make(chan struct{})}
	v.job.Store(j)
	return c, j, nil
}

// endJob forgets j if it is still the running job.
func (v *VBD) endJob(j *job) {
	v.job.CompareAndSwap(j, nil)
}

// stopJob cancels the running coalesce and waits for its copy to stop;
// under the lifecycle lock.
func (v *VBD) stopJob() {
	if j := v.job.Swap(nil); j != nil {
		j.cancel()
		<-j.done
	}
}

// relink pauses the VBD, relinks the chain, and resumes it on the same
// image; it reports how long the disk was paused. A relink that fails
// leaves the chain as it was, and the VBD resumes on it.
func (v *VBD) relink(ctx context.Context, j *job, relink func() error) (time.Duration, error) {
	if err := v.lock(ctx); err != nil {
		return 0, fmt.Errorf("coalesce: %w", err)
	}
	defer v.unlock()
	if !v.job.CompareAndSwap(j, nil) {
		return 0, fmt.Errorf("coalesce: %w", ErrInterrupted)
	}
	// The copy is done: a caller's deadline must not cut the pause short
	// and leave the disk paused.
	ctx = context.WithoutCancel(ctx)
	start := time.Now()
	if err := v.pauseLocked(ctx); err != nil {
		return 0, fmt.Errorf("coalesce: %w", err)
	}
	rerr := relink()
	if rerr != nil {
		rerr = fmt.Errorf("coalesce: relink: %w", rerr)
		v.errors.add(rerr)
	}
	err := v.resumeLocked(ctx, "")
	paused := time.Since(start)
	v.log.Info("vbd coalesced", "paused", paused, "err", errors.Join(rerr, err))
	if err != nil {
		return paused, errors.Join(rerr, fmt.Errorf("coalesce: resume: %w", err))
	}
	return paused, rerr
}
