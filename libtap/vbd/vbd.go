// Package vbd is one virtual block device: an image chain opened through
// a driver, the ring its frontends submit into, the scheduler, its stats
// and its lifecycle (open, pause, resume, close) with blktap's states.
package vbd

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/sched"
	"gotap.dev/libtap/stats"
)

// Options for Open.
type Options struct {
	Drivers   drivers.Options
	RingSlots int // default 352, as blktap's aio pool
	SlotBuf   int // bytes preallocated per slot (default 128 KiB)
	Sched     sched.Config
	// ReopenTries and ReopenGap: how Resume retries opening the image
	// (blktap: 10 tries, 1 s apart).
	ReopenTries int
	ReopenGap   time.Duration
	// StuckAfter: the watchdog logs requests in flight for longer
	// (default 10 s, as blktap).
	StuckAfter time.Duration
	// OpenDriver opens an image (default drivers.Open); tests stack
	// fault-injecting drivers here.
	OpenDriver func(spec string, opts drivers.Options) (disk.Driver, error)
	Logger     *slog.Logger
}

func (o *Options) defaults() {
	if o.RingSlots <= 0 {
		o.RingSlots = 352
	}
	if o.SlotBuf <= 0 {
		o.SlotBuf = 128 << 10
	}
	if o.ReopenTries <= 0 {
		o.ReopenTries = 10
	}
	if o.ReopenGap <= 0 {
		o.ReopenGap = time.Second
	}
	if o.StuckAfter <= 0 {
		o.StuckAfter = 10 * time.Second
	}
	if o.OpenDriver == nil {
		o.OpenDriver = drivers.Open
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// VBD is an open virtual block device.
type VBD struct {
	minor int
	opts  Options
	log   *slog.Logger
	ring  *ring.Ring
	sched *sched.Scheduler
	stats stats.Counters
	state atomic.Uint32
	size  int64
	start time.Time

	mu     sync.Mutex // serialises lifecycle operations; guards below
	spec   string
	caps   disk.Caps
	closed bool
	errors recentErrors

	stopWatch chan struct{}
}

// Open opens spec and starts serving it as minor.
func Open(minor int, spec string, opts Options) (*VBD, error) {
	opts.defaults()
	drv, err := opts.OpenDriver(spec, opts.Drivers)
	if err != nil {
		return nil, err
	}
	log := opts.Logger.With("minor", minor)
	v := &VBD{
		minor: minor, opts: opts, log: log, spec: spec,
		ring: ring.New(opts.RingSlots, opts.SlotBuf),
		size: drv.Size(), caps: drv.Caps(), start: time.Now(),
		stopWatch: make(chan struct{}),
	}
	cfg := opts.Sched
	cfg.Logger = log
	v.sched = sched.New(drv, &v.stats, opts.RingSlots, cfg)
	go v.watchdog()
	log.Info("vbd open", "image", spec, "size", v.size, "direct", v.caps.Direct, "read_only", v.caps.ReadOnly)
	return v, nil
}

func (v *VBD) Minor() int                { return v.minor }
func (v *VBD) Size() int64               { return v.size }
func (v *VBD) Ring() *ring.Ring          { return v.ring }
func (v *VBD) State() State              { return State(v.state.Load()) }
func (v *VBD) setState(s State)          { v.state.Store(uint32(s)) }
func (v *VBD) Counters() *stats.Counters { return &v.stats }

// Spec is the image chain being served, as type:path.
func (v *VBD) Spec() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.spec
}

// Caps are the driver's capabilities.
func (v *VBD) Caps() disk.Caps {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.caps
}

// Submit validates a request and queues it; invalid ones complete at once
// with EINVAL (misaligned, inconsistent), ENOSPC (past the end) or EROFS.
// Every request completes through its Owner, exactly once.
func (v *VBD) Submit(req *ring.Request) {
	if err := v.check(req); err != nil {
		req.Err = err
		v.stats.Errors.Add(1)
		req.Owner.Complete(req)
		return
	}
	v.sched.Submit(req)
}

func (v *VBD) check(req *ring.Request) error {
	if req.Offset < 0 || req.Length < 0 {
		return syscall.EINVAL
	}
	if req.Op != ring.Flush && req.Offset+req.Length > v.size {
		return syscall.ENOSPC
	}
	switch req.Op {
	case ring.Read:
	case ring.Write, ring.Trim, ring.WriteZeroes:
		if v.caps.ReadOnly {
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

// Extents maps [off, off+n), waiting while paused.
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

// Pause stops taking requests, waits for those in flight, and closes the
// image chain. Requests that arrive meanwhile wait for Resume.
func (v *VBD) Pause(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return syscall.ENODEV
	}
	if v.State()&Paused != 0 {
		return nil
	}
	v.setState(v.State() | PauseRequested)
	drv := v.sched.Pause()
	err := drv.Close()
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
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.State()&Paused == 0 {
		return syscall.EINVAL
	}
	if spec == "" {
		spec = v.spec
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
	v.spec, v.caps = spec, drv.Caps()
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

// Close completes what is queued, flushes and closes the chain (writing
// VHD footers and batmaps). A paused VBD has no chain open to close.
func (v *VBD) Close(ctx context.Context) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return nil
	}
	v.closed = true
	v.setState(v.State() | ShutdownRequested)
	close(v.stopWatch)
	if v.State()&Paused != 0 {
		// Nothing can run: resume on a closed driver is impossible, so
		// give the queued requests back as failures.
		v.sched.Resume(closedDriver{v.size})
	}
	v.sched.Stop()
	var err error
	v.sched.With(func(d disk.Driver) error {
		if ferr := d.Flush(); ferr != nil {
			err = ferr
		}
		if cerr := d.Close(); cerr != nil && err == nil {
			err = cerr
		}
		return nil
	})
	v.setState(Closed)
	v.log.Info("vbd closed")
	return err
}
