package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"

	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/vbd"
)

// frontends serve one VBD: its own NBD socket nbd<pid>.<minor>, and the
// daemon's TCP server if there is one.
type frontends struct {
	socket string
	ln     net.Listener
	srv    *nbd.Server
	served *task // Serve
	minor  int
}

// serveFrontends starts serving v.
func serveFrontends(d *daemon, minor int, v *vbd.VBD) (*frontends, error) {
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
	return fe, nil
}

// stop stops taking requests, lets those in flight complete (until ctx
// ends), closes the connections and removes the socket.
func (fe *frontends) stop(ctx context.Context, d *daemon) error {
	if d.tcp != nil {
		d.tcp.Remove(exportName(fe.minor))
	}
	err := fe.srv.Shutdown(ctx)
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
