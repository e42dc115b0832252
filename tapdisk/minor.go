package main

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"syscall"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/vbd"
)

// minor is one attached minor: closed, or a VBD with its frontends.
type minor struct {
	n    int
	hold *rundir.Hold // the marker's lock, held while attached

	mu  sync.Mutex // serialises open, pause, resume and close; guards below
	vbd *vbd.VBD   // nil while closed
	fe  *frontends
}

func (m *minor) isOpen() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.vbd != nil
}

// info is the VBD's Info, or a closed minor's.
func (m *minor) info() vbd.Info {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.vbd == nil {
		return vbd.Info{Minor: m.n, State: vbd.Closed, StateName: vbd.Closed.String()}
	}
	return m.vbd.Info()
}

// withVBD runs fn on the open VBD; ENODEV if the minor is closed.
func (m *minor) withVBD(fn func(*vbd.VBD) error) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.vbd == nil {
		return control.Errorf(syscall.ENODEV, "minor %d has no image open", m.n)
	}
	return fn(m.vbd)
}

// open opens image and serves it.
func (m *minor) open(d *daemon, image string, opts vbd.Options) (control.OpenReply, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.vbd != nil {
		return control.OpenReply{}, control.Errorf(syscall.EBUSY, "minor %d is serving %s: close it first", m.n, m.vbd.Spec())
	}
	v, err := vbd.Open(m.n, image, opts)
	if err != nil {
		return control.OpenReply{}, fmt.Errorf("open minor %d: %w", m.n, err)
	}
	fe, err := serveFrontends(d, m.n, v)
	if err != nil {
		v.Close(context.Background())
		return control.OpenReply{}, fmt.Errorf("open minor %d: %w", m.n, err)
	}
	m.vbd, m.fe = v, fe
	return control.OpenReply{Minor: m.n, Socket: fe.socket, URI: nbdURI(fe.socket)}, nil
}

// nbdURI names a Unix socket export (the NBD URI standard).
func nbdURI(socket string) string { return "nbd+unix:///?socket=" + socket }

// close stops the frontends and closes the VBD; a closed minor is left
// as it is.
func (m *minor) close(ctx context.Context, d *daemon) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, fe := m.vbd, m.fe
	if v == nil {
		return nil
	}
	m.vbd, m.fe = nil, nil
	var feErr, vErr error
	if v.State()&vbd.Paused != 0 {
		// The requests it holds wait for a resume: fail them by closing
		// the VBD first, so the frontends can drain (what they read
		// meanwhile the closed VBD fails with ENXIO).
		vErr = v.Close(ctx)
		feErr = fe.stop(ctx, d)
	} else {
		feErr = fe.stop(ctx, d)
		vErr = v.Close(ctx)
	}
	if err := errors.Join(feErr, vErr); err != nil {
		return fmt.Errorf("close minor %d: %w", m.n, err)
	}
	return nil
}

// exportName is a minor's name on the TCP server.
func exportName(minor int) string { return strconv.Itoa(minor) }
