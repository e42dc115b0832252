package vbd

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"

	"gotap.dev/libtap/disk"
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
func (v *VBD) Pause(ctx context.Context) error {
	if err := v.lock(ctx); err != nil {
		return fmt.Errorf("pause: %w", err)
	}
	defer v.unlock()
	if v.closed {
		return syscall.ENODEV
	}
	if v.State()&Paused != 0 {
		return nil
	}
	v.setState(v.State() | PauseRequested)
	drv, err := v.sched.Pause(ctx)
	if err != nil {
		v.setState(v.State() &^ PauseRequested)
		return fmt.Errorf("pause: waiting for the requests in flight: %w", err)
	}
	err = drv.Close()
	v.setState(v.State()&^PauseRequested | Paused)
	v.log.Info("vbd paused")
	if err != nil {
		return fmt.Errorf("close image: %w", err)
	}
	return nil
}

// Resume reopens the image chain, spec if not empty (else the same one),
// retrying as blktap does; a chain of another size is refused with
// EMEDIUMTYPE and the VBD stays paused (RESUME_FAILED) until a correct
// Resume.
func (v *VBD) Resume(ctx context.Context, spec string) error {
	if err := v.lock(ctx); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	defer v.unlock()
	if v.closed {
		return syscall.ENODEV
	}
	if v.State()&Paused == 0 {
		return syscall.EINVAL
	}
	if spec == "" {
		spec = v.Spec()
	}
	drv, err := v.reopen(ctx, spec)
	if err == nil && drv.Size() != v.size {
		drv.Close()
		err = fmt.Errorf("%w: %s is %d bytes, the disk is %d", disk.ErrMediumType, spec, drv.Size(), v.size)
	}
	if err != nil {
		v.setState(v.State() | ResumeFailed)
		v.errors.add(err)
		return err
	}
	v.chain.Store(&chain{spec: spec, caps: drv.Caps()})
	v.setState(v.State() &^ (Paused | ResumeFailed))
	v.sched.Resume(drv)
	v.log.Info("vbd resumed", "image", spec)
	return nil
}

func (v *VBD) reopen(ctx context.Context, spec string) (disk.Driver, error) {
	var err error
	for try := 0; try < v.opts.ReopenTries; try++ {
		var drv disk.Driver
		if drv, err = v.opts.OpenDriver(spec, v.opts.Drivers); err == nil {
			return drv, nil
		}
		v.log.Warn("reopen failed", "image", spec, "try", try+1, "err", err)
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(v.opts.ReopenGap):
		}
	}
	return nil, err
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
		v.setState(v.State() | ShutdownRequested)
		close(v.stopWatch)
		go v.shutdown(v.State()&Paused != 0)
	}
	v.unlock()
	select {
	case <-v.shut:
		return v.shutErr
	case <-ctx.Done():
		return fmt.Errorf("close: requests still in flight: %w", ctx.Err())
	}
}

// shutdown is Close's work, once no request can be submitted any more.
func (v *VBD) shutdown(paused bool) {
	defer close(v.shut)
	if paused {
		// Resume on a closed chain is impossible: give the held
		// requests back as failures.
		v.sched.Resume(closedDriver{v.size})
	}
	v.sched.Stop()
	// Swap the chain out, so that a later Extents meets the stand-in
	// and not a closed driver.
	drv, _ := v.sched.Pause(context.Background())
	v.shutErr = errors.Join(drv.Flush(), drv.Close())
	v.sched.Resume(closedDriver{v.size})
	v.setState(Closed)
	v.log.Info("vbd closed")
}
