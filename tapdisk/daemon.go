package main

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"syscall"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/drivers"
	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/sched"
	"gotap.dev/libtap/vbd"
)

// daemon is the table of minors this tapdisk serves; it is the control
// protocol's Handler. daemon.mu guards the table only, and is never held
// while waiting on a minor: list and stats never wait on a lifecycle
// operation of any minor (see minor).
type daemon struct {
	dir       rundir.Dir
	pid       int
	log       *slog.Logger
	ringSlots int
	depth     int
	// drivers: the command line's driver options, for every image
	// opened (each request adds its own read-only and no-direct flags).
	drivers drivers.Options
	tcp     *nbd.Server // every minor by number; nil without --tcp
	// limits: MaxConns, HandshakeTimeout and IdlePoll of every NBD server.
	limits nbd.Options
	// openWait bounds an image's open, and each reopen of a resume
	// (0: vbd.DefaultOpenTimeout).
	openWait time.Duration
	// nbdConns: connections of each kernel NBD device (--nbd-conns).
	nbdConns int

	mu     sync.Mutex
	minors map[int]*minor
	// exitWhenEmpty: started without images, so tap-ctl spawned us and
	// we go once the last minor it gave us is detached (empty closes).
	exitWhenEmpty bool
	empty         chan struct{}
}

var _ control.Handler = (*daemon)(nil)

// get finds an attached minor.
func (d *daemon) get(n int) (*minor, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if m := d.minors[n]; m != nil {
		return m, nil
	}
	return nil, control.Errorf(syscall.ENOENT, "minor %d is not attached", n)
}

func (d *daemon) List(context.Context) ([]wire.Info, error) {
	d.mu.Lock()
	ms := make([]*minor, 0, len(d.minors))
	for _, n := range slices.Sorted(maps.Keys(d.minors)) {
		ms = append(ms, d.minors[n])
	}
	d.mu.Unlock()
	infos := make([]wire.Info, len(ms))
	for i, m := range ms {
		infos[i] = m.info()
	}
	return infos, nil
}

func (d *daemon) Attach(_ context.Context, n int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.minors[n] != nil {
		return control.Errorf(syscall.EEXIST, "minor %d is already attached", n)
	}
	m, err := d.newMinor(n)
	if err != nil {
		return err
	}
	d.minors[n] = m
	d.log.Info("minor attached", "minor", n)
	return nil
}

// newMinor claims minor n's marker in the run directory (see
// rundir.Hold): EBUSY if another tapdisk serves it.
func (d *daemon) newMinor(n int) (*minor, error) {
	hold, err := d.dir.Hold(n)
	if err != nil {
		return nil, err
	}
	return makeMinor(n, hold, d.lockWait()), nil
}

func (d *daemon) openTimeout() time.Duration {
	if d.openWait > 0 {
		return d.openWait
	}
	return vbd.DefaultOpenTimeout
}

// lockWait bounds the wait for another operation on the same minor:
// longer than an open may take, so a request queued behind one that
// times out still runs.
func (d *daemon) lockWait() time.Duration { return d.openTimeout() + 5*time.Second }

// attachFree attaches the lowest free minor of the run directory, for
// an image of the command line: the allocator tap-ctl allocate uses
// (rundir.HoldNew), so it is never a minor reserved, served by another
// tapdisk, or left by one that died. Its marker goes with the minor.
func (d *daemon) attachFree() (int, error) {
	hold, err := d.dir.HoldNew()
	if err != nil {
		return 0, err
	}
	n := hold.Minor()
	d.mu.Lock()
	defer d.mu.Unlock()
	d.minors[n] = makeMinor(n, hold, d.lockWait())
	return n, nil
}

func (d *daemon) Open(ctx context.Context, req control.OpenRequest) (control.OpenReply, error) {
	if err := checkFrontend(req); err != nil {
		return control.OpenReply{}, err
	}
	d.mu.Lock()
	m, attached := d.minors[req.Minor]
	if !attached {
		var err error
		if m, err = d.newMinor(req.Minor); err != nil {
			d.mu.Unlock()
			return control.OpenReply{}, err
		}
		d.minors[req.Minor] = m
	}
	d.mu.Unlock()
	opts := vbd.Options{
		Drivers:     d.driverOptions(req),
		RingSlots:   d.ringSlots,
		Sched:       sched.Config{Depth: d.depth, Timeout: req.RequestTimeout()},
		OpenTimeout: d.openTimeout(),
		Logger:      d.log,
	}
	rep, err := m.open(ctx, d, req, opts)
	if err != nil && !attached {
		// Open attached it for this request only: undo that.
		d.forget(m)
	}
	return rep, err
}

// driverOptions are the daemon's driver options with req's.
func (d *daemon) driverOptions(req control.OpenRequest) drivers.Options {
	o := d.drivers
	o.ReadOnly, o.NoDirect = req.ReadOnly, req.NoDirect
	return o
}

// forget removes a minor that has no image open and that no operation
// holds. It keeps the minor's lock, so that a request that found the
// minor before it went waits and then fails, rather than act on it.
func (d *daemon) forget(m *minor) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.minors[m.n] != m || !m.tryLock() {
		return
	}
	if m.isOpen() {
		m.unlock()
		return
	}
	delete(d.minors, m.n)
	d.release(m)
}

func (d *daemon) Pause(ctx context.Context, n int) error {
	m, err := d.get(n)
	if err != nil {
		return err
	}
	return m.withVBD(ctx, "pause", func(v *vbd.VBD) error { return v.Pause(ctx) })
}

func (d *daemon) Resume(ctx context.Context, n int, image string) error {
	m, err := d.get(n)
	if err != nil {
		return err
	}
	return m.withVBD(ctx, "resume", func(v *vbd.VBD) error { return v.Resume(ctx, image) })
}

func (d *daemon) Close(ctx context.Context, n int) error {
	m, err := d.get(n)
	if err != nil {
		return err
	}
	return m.close(ctx, d)
}

func (d *daemon) Detach(_ context.Context, n int) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	m := d.minors[n]
	switch {
	case m == nil:
		return control.Errorf(syscall.ENOENT, "minor %d is not attached", n)
	case !m.tryLock():
		return control.Errorf(syscall.EBUSY, "minor %d is busy: an operation on it is running", n)
	case m.isOpen():
		m.unlock()
		return control.Errorf(syscall.EBUSY, "minor %d has an image open: close it first", n)
	}
	// The lock stays taken: see forget.
	delete(d.minors, n)
	d.release(m)
	d.log.Info("minor detached", "minor", n)
	if len(d.minors) == 0 && d.exitWhenEmpty {
		d.exitWhenEmpty = false // close empty once
		close(d.empty)
	}
	return nil
}

func (d *daemon) Stats(_ context.Context, n int) (wire.Info, error) {
	m, err := d.get(n)
	if err != nil {
		return wire.Info{}, err
	}
	return m.info(), nil
}

// shutdownGrace bounds how long shutdown waits for a frontend's requests
// in flight (a request may retry for up to --timeout): past it, their
// connections are cut.
const shutdownGrace = 30 * time.Second

// closeAll closes every minor's image and gives up its marker, for the
// exit; the minors stay attached (the process is going).
func (d *daemon) closeAll() error {
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	d.mu.Lock()
	ms := slices.Collect(maps.Values(d.minors))
	d.mu.Unlock()
	var errs []error
	for _, m := range ms {
		errs = append(errs, m.close(ctx, d))
		d.release(m)
	}
	return errors.Join(errs...)
}

// release gives up a minor's marker lock; tap-ctl free then releases
// the minor itself.
func (d *daemon) release(m *minor) {
	if err := m.hold.Release(); err != nil {
		d.log.Warn("release minor marker", "minor", m.n, "err", err)
	}
}
