package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/vbd"
)

// frontends serve one VBD: its own NBD socket nbd<pid>.<minor>, the
// daemon's TCP server if there is one, and a kernel block device if the
// open asked for one (blockdev.go).
type frontends struct {
	socket string
	ln     net.Listener
	srv    *nbd.Server
	served *task // Serve
	minor  int
	dev    blockDevice // nil: none
}

// serveFrontends starts serving v, as req asks.
func serveFrontends(d *daemon, minor int, v *vbd.VBD, req control.OpenRequest) (*frontends, error) {
	socket := d.dir.NBD(d.pid, minor)
	// The name holds our pid: anything there is left from a dead process.
	if err := os.Remove(socket); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("nbd socket: %w", err)
	}
	ln, err := net.Listen("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("nbd socket: %w", err)
	}
	if err := os.Chmod(socket, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("nbd socket: %w", err)
	}
	fe := &frontends{
		socket: socket,
		ln:     ln,
		minor:  minor,
	}
	opts := d.limits
	opts.Logger = d.log.With("minor", minor)
	fe.srv = nbd.NewServer(opts)
	fe.srv.Add(exportName(minor), v)
	fe.served = goTask("nbd server", func() error { return fe.srv.Serve(context.Background(), ln) })
	if d.tcp != nil {
		d.tcp.Add(exportName(minor), v)
	}
	d.log.Info("serving", "minor", minor, "uri", nbdURI(socket))
	dev, err := attachBlock(d, fe, v, req)
	if err != nil {
		return nil, errors.Join(err, fe.stop(context.Background(), d))
	}
	fe.dev = dev
	return fe, nil
}

// device is the block device's path, "" without one.
func (fe *frontends) device() string {
	if fe.dev == nil {
		return ""
	}
	return fe.dev.Path()
}

// stop stops taking requests, lets those in flight complete (until ctx
// ends), closes the connections and removes the socket.
func (fe *frontends) stop(ctx context.Context, d *daemon) error {
	var err error
	if fe.dev != nil {
		// First, so that the kernel's disconnect reaches the server.
		err = fe.dev.Close(shutdownGrace)
	}
	if d.tcp != nil {
		d.tcp.Remove(exportName(fe.minor))
	}
	err = errors.Join(err, fe.srv.Shutdown(ctx))
	// A Serve that had not started yet refuses to, with ErrClosed: that
	// is a stop too, but then the listener is still ours to close (which
	// removes the socket).
	if serr := fe.served.wait(shutdownGrace); serr != nil && !errors.Is(serr, net.ErrClosed) {
		err = errors.Join(err, serr)
	}
	fe.ln.Close()
	if rerr := os.Remove(fe.socket); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
		err = errors.Join(err, rerr)
	}
	if err != nil {
		return fmt.Errorf("stop nbd: %w", err)
	}
	return nil
}
