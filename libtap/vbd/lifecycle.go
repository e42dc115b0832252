package vbd

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/slowopen"
)

// lock takes the lifecycle lock, or gives up when ctx ends.
func (v *VBD) lock(ctx context.Context) error {
	select {
	case v.life <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (v *VBD) unlock() { <-v.life }

// Pause stops taking requests, waits for those in flight, and closes the
// image chain. Requests that arrive meanwhile wait for Resume. If ctx
// ends before the requests in flight do, the VBD goes on running and
// Pause returns ctx's error.
//
// A driver whose contents live only in this process (ram) is kept open
// instead, for Resume to take back: closing it would lose the disk.
//
// Pause fails only with the VBD still running, or saying otherwise: if
// the chain cannot be closed cleanly (a VHD footer that cannot be
// written), it is reopened and the VBD resumed, so that a caller told
// "failed" does not leave a guest stalled on a disk it believes running.
func (v *VBD) Pause(ctx context.Context) error {
	if err := v.lock(ctx); err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	defer v.unlock()
	if v.closed {
		return syscall.ENODEV
	}
	if v.State()&wire.Paused != 0 {
		return nil
	}
	v.stopJob()
	return v.pauseLocked(ctx)
}

// pauseLocked is Pause's work on a running VBD, under the lifecycle lock.
func (v *VBD) pauseLocked(ctx context.Context) error {
	v.setState(v.State() | wire.PauseRequested)
	// Requests waiting for the valve's tokens go now: a pause waits for
	// the requests in flight, never for a rate limit.
	v.budget.Bypass()
	drv, err := v.sched.Pause(ctx)
	if err != nil {
		v.budget.Enforce()
		v.setState(v.State() &^ wire.PauseRequested)
		return fmt.Errorf("pause: waiting for the requests in flight: %w", err)
	}
	v.served = nil
	if drv.Caps().InMemory {
		v.kept = drv
	} else if err := drv.Close(); err != nil {
		return v.unpause(ctx, err)
	}
	v.setState(v.State()&^wire.PauseRequested | wire.Paused)
	v.log.Info("vbd paused")
	return nil
}

// unpause puts the VBD back into service after its chain failed to close
// (closeErr) during Pause; the lifecycle lock is held and the scheduler
// paused. If the chain cannot be reopened either, the VBD stays paused
// with RESUME_FAILED, and the error says so.
func (v *VBD) unpause(ctx context.Context, closeErr error) error {
	v.errors.add(closeErr)
	spec := v.Spec()
	drv, err := v.openDriver(ctx, spec)
	if err == nil && drv.Size() != v.Size() {
		drv.Close()
		err = fmt.Errorf("%w: %s is now %d bytes, the disk is %d", disk.ErrMediumType, spec, drv.Size(), v.Size())
	}
	if err != nil {
		v.setState(v.State()&^wire.PauseRequested | wire.Paused | wire.ResumeFailed)
		v.errors.add(err)
		v.log.Error("pause: image not closed cleanly, nor reopened: the vbd stays paused", "close_err", closeErr, "reopen_err", err)
		return fmt.Errorf("pause: closing the image failed (%w) and reopening it too: the disk is paused, resume failed: %w", closeErr, err)
	}
	v.chain.Store(newChain(spec, drv))
	v.setState(v.State() &^ wire.PauseRequested)
	v.budget.Enforce()
	v.served = drv
	v.sched.Resume(drv)
	v.log.Warn("pause: image not closed cleanly, reopened: the vbd goes on running", "err", closeErr)
	return fmt.Errorf("pause: closing the image failed, so it was reopened and the disk goes on running: %w", closeErr)
}

// Resume reopens the image chain, spec if not empty (else the same one),
// retrying as blktap does. A chain that grew while paused (a resize) is
// taken at its new size: new NBD connections see it, those open keep the
// size they were told. A smaller chain is refused with EMEDIUMTYPE and
// the VBD stays paused (RESUME_FAILED) until a correct Resume. A driver
// Pause kept (ram) is taken back when spec names it again; another spec
// replaces it, and its contents go.
func (v *VBD) Resume(ctx context.Context, spec string) error {
	if err := v.lock(ctx); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	defer v.unlock()
	if v.closed {
		return syscall.ENODEV
	}
	if v.State()&wire.Paused == 0 {
		return syscall.EINVAL
	}
	return v.resumeLocked(ctx, spec)
}

// resumeLocked is Resume's work on a paused VBD, under the lifecycle lock.
func (v *VBD) resumeLocked(ctx context.Context, spec string) error {
	if spec == "" {
		spec = v.Spec()
	}
	drv := v.kept
	var err error
	if drv == nil || spec != v.Spec() {
		drv, err = v.reopen(ctx, spec)
	}
	if err == nil && drv.Size() < v.Size() {
		drv.Close()
		err = fmt.Errorf("%w: %s is %d bytes, the disk is %d: a disk never shrinks", disk.ErrMediumType, spec, drv.Size(), v.Size())
	}
	if err != nil {
		v.setState(v.State() | wire.ResumeFailed)
		v.errors.add(err)
		return err
	}
	if v.kept != nil && v.kept != drv {
		if err := v.kept.Close(); err != nil {
			v.log.Warn("close the image resumed away from", "image", v.Spec(), "err", err)
		}
	}
	v.kept = nil
	if grown := drv.Size(); grown != v.Size() {
		v.log.Info("vbd grown", "from", v.Size(), "to", grown)
		v.size.Store(grown)
	}
	v.chain.Store(newChain(spec, drv))
	v.setState(v.State() &^ (wire.Paused | wire.ResumeFailed))
	v.budget.Enforce()
	v.served = drv
	v.sched.Resume(drv)
	v.log.Info("vbd resumed", "image", spec)
	return nil
}

// reopen opens spec for Resume, trying ReopenTries times ReopenGap
// apart; an open that does not return in OpenTimeout is not retried.
func (v *VBD) reopen(ctx context.Context, spec string) (disk.Driver, error) {
	var err error
	for try := 0; try < v.opts.ReopenTries; try++ {
		var drv disk.Driver
		if drv, err = v.openDriver(ctx, spec); err == nil {
			return drv, nil
		}
		v.log.Warn("reopen failed", "image", spec, "try", try+1, "err", err)
		if errors.Is(err, slowopen.ErrGaveUp) || errors.Is(err, slowopen.ErrLate) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(v.opts.ReopenGap):
		}
	}
	return nil, err
}

// openDriver opens spec, giving up after OpenTimeout; a driver that
// opens after that is closed.
func (v *VBD) openDriver(ctx context.Context, spec string) (disk.Driver, error) {
	return slowopen.Do(ctx, &v.opening, v.opts.OpenTimeout, spec,
		func() (disk.Driver, error) { return v.opts.OpenDriver(spec, v.opts.Drivers) },
		func(d disk.Driver) { d.Close() })
}

// Close refuses new requests (ENXIO), completes what is queued, flushes
// and closes the chain (writing VHD footers and batmaps). A paused VBD
// has no chain open: its held requests fail with ENXIO. If ctx ends
// first, Close returns ctx's error and the closing goes on in the
// background, ending when the requests in flight do; a later Close
// waits for it.
func (v *VBD) Close(ctx context.Context) error {
	if err := v.lock(ctx); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if !v.closed {
		v.fence.Lock()
		v.closed = true
		v.fence.Unlock()
		v.setState(v.State() | wire.ShutdownRequested)
		v.budget.Bypass() // what is queued completes without waiting for tokens
		close(v.stopWatch)
		v.stopJob()
		v.served = nil
		go v.shutdown(v.State()&wire.Paused != 0, v.kept)
		v.kept = nil
	}
	v.unlock()
	select {
	case <-v.shut:
		return v.shutErr
	case <-ctx.Done():
		return fmt.Errorf("close: requests still in flight: %w", ctx.Err())
	}
}

// shutdown is Close's work, once no request can be submitted any more;
// kept is the driver a pause kept open, if any.
func (v *VBD) shutdown(paused bool, kept disk.Driver) {
	defer close(v.shut)
	if paused {
		// Resume on a closed chain is impossible: give the held
		// requests back as failures.
		v.sched.Resume(closedDriver{v.Size()})
	}
	v.sched.Stop()
	// Swap the chain out, so that a later Extents meets the stand-in
	// and not a closed driver.
	drv, _ := v.sched.Pause(context.Background())
	v.shutErr = errors.Join(drv.Flush(), drv.Close())
	if kept != nil {
		v.shutErr = errors.Join(v.shutErr, kept.Close())
	}
	v.sched.Resume(closedDriver{v.Size()})
	v.setState(wire.Closed)
	v.log.Info("vbd closed")
}
