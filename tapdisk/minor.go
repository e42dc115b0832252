package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/slowopen"
	"gotap.dev/libtap/vbd"
)

// minor is one attached minor: closed, or a VBD with its frontends.
type minor struct {
	n    int
	hold *rundir.Hold // the marker's lock, held while attached

	// life serialises open, pause, resume and close: a channel, so that
	// a wait for it honours the request's context and gives up after
	// lockWait, naming the operation in the way (busy).
	life     chan struct{}
	lockWait time.Duration
	busy     atomic.Pointer[operation]

	// cur is what is served, nil while closed: changed under life, read
	// without it, so list and stats never wait on a lifecycle operation
	// (a pause draining slow requests, a resume retrying, an open hung
	// on its image).
	cur atomic.Pointer[served]

	// opening bounds open: one that hangs fails with ETIMEDOUT, and
	// while it hangs the next is refused (slowopen).
	opening slowopen.Guard
}

// served is an open minor's VBD and its frontends.
type served struct {
	vbd *vbd.VBD
	fe  *frontends
}

// operation is the lifecycle operation holding a minor, for messages.
type operation struct {
	name  string
	since time.Time
}

func makeMinor(n int, hold *rundir.Hold, lockWait time.Duration) *minor {
	return &minor{n: n, hold: hold, life: make(chan struct{}, 1), lockWait: lockWait}
}

// lock takes the minor for the operation op: EBUSY if another holds it
// for longer than lockWait, ctx's error if ctx ends first.
func (m *minor) lock(ctx context.Context, op string) error {
	t := time.NewTimer(m.lockWait)
	defer t.Stop()
	select {
	case m.life <- struct{}{}:
		m.busy.Store(&operation{op, time.Now()})
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s minor %d: %w", op, m.n, context.Cause(ctx))
	case <-t.C:
		by := "another operation"
		if o := m.busy.Load(); o != nil {
			by = fmt.Sprintf("%s, for %v", o.name, time.Since(o.since).Round(time.Second))
		}
		return control.Errorf(syscall.EBUSY, "%s minor %d: busy (%s)", op, m.n, by)
	}
}

// tryLock takes the minor if nobody holds it.
func (m *minor) tryLock() bool {
	select {
	case m.life <- struct{}{}:
		return true
	default:
		return false
	}
}

func (m *minor) unlock() { <-m.life }

func (m *minor) isOpen() bool { return m.cur.Load() != nil }

// info is the VBD's Info, or a closed minor's; it never waits.
func (m *minor) info() wire.Info {
	if s := m.cur.Load(); s != nil {
		info := s.vbd.Info()
		info.Device = s.fe.device()
		return info
	}
	return wire.Unserved(m.n, wire.Closed)
}

// withVBD runs fn, the operation op, on the open VBD; ENODEV if the
// minor is closed.
func (m *minor) withVBD(ctx context.Context, op string, fn func(*vbd.VBD) error) error {
	if err := m.lock(ctx, op); err != nil {
		return err
	}
	defer m.unlock()
	s := m.cur.Load()
	if s == nil {
		return control.Errorf(syscall.ENODEV, "minor %d has no image open", m.n)
	}
	return fn(s.vbd)
}

// open opens image and serves it. The open is bounded by d.openTimeout:
// an image that hangs (a FIFO, a server that stopped answering) fails
// with ETIMEDOUT, and the VBD that opens late is closed at once.
func (m *minor) open(ctx context.Context, d *daemon, req control.OpenRequest, opts vbd.Options) (control.OpenReply, error) {
	if err := m.lock(ctx, "open"); err != nil {
		return control.OpenReply{}, err
	}
	defer m.unlock()
	if s := m.cur.Load(); s != nil {
		return control.OpenReply{}, control.Errorf(syscall.EBUSY, "minor %d is serving %s: close it first", m.n, s.vbd.Spec())
	}
	v, err := slowopen.Do(ctx, &m.opening, d.openTimeout(), req.Image,
		func() (*vbd.VBD, error) { return vbd.Open(m.n, req.Image, opts) },
		func(v *vbd.VBD) {
			d.log.Warn("an open given up on finished late: closing it", "minor", m.n, "image", req.Image)
			v.Close(context.Background())
		})
	if err != nil {
		return control.OpenReply{}, fmt.Errorf("open minor %d: %w", m.n, err)
	}
	fe, err := serveFrontends(d, m.n, v, req)
	if err != nil {
		v.Close(context.Background())
		return control.OpenReply{}, fmt.Errorf("open minor %d: %w", m.n, err)
	}
	m.cur.Store(&served{v, fe})
	return control.OpenReply{Minor: m.n, Socket: fe.socket, URI: nbdURI(fe.socket), Device: fe.device()}, nil
}

// nbdURI names a Unix socket export (the NBD URI standard).
func nbdURI(socket string) string { return "nbd+unix:///?socket=" + socket }

// close stops the frontends and closes the VBD; a closed minor is left
// as it is.
func (m *minor) close(ctx context.Context, d *daemon) error {
	if err := m.lock(ctx, "close"); err != nil {
		return err
	}
	defer m.unlock()
	s := m.cur.Swap(nil)
	if s == nil {
		return nil
	}
	var feErr, vErr error
	if s.vbd.State()&wire.Paused != 0 {
		// The requests it holds wait for a resume: fail them by closing
		// the VBD first, so the frontends can drain (what they read
		// meanwhile the closed VBD fails with ENXIO).
		vErr = s.vbd.Close(ctx)
		feErr = s.fe.stop(ctx, d)
	} else {
		feErr = s.fe.stop(ctx, d)
		vErr = s.vbd.Close(ctx)
	}
	if err := errors.Join(feErr, vErr); err != nil {
		return fmt.Errorf("close minor %d: %w", m.n, err)
	}
	return nil
}

// exportName is a minor's name on the TCP server.
func exportName(minor int) string { return strconv.Itoa(minor) }
