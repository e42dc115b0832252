package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"syscall"
	"time"

	"gotap.dev/libtap/cli"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/drivers"
	"gotap.dev/libtap/nbd"
	"gotap.dev/libtap/rundir"
)

// Exit statuses; doc.go documents them.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
	// exitBusy: an image is in use by another process (its lock), or a
	// minor by another tapdisk; EBUSY, as tap-ctl exits.
	exitBusy = int(syscall.EBUSY)
)

// run is tapdisk: parse, serve until a signal (or the last detach), shut
// down cleanly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	f, err := parse(args, stdout, stderr)
	switch {
	case errors.Is(err, cli.ErrHelp):
		return exitOK
	case err != nil:
		cli.PrintUsage(stderr, "tapdisk", err)
		return exitUsage
	}
	if os.Getenv("GOMAXPROCS") == "" {
		runtime.GOMAXPROCS(f.Procs)
	}
	log, logFile, err := newLogger(&f, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "tapdisk: %v\n", err)
		return exitFail
	}
	defer logFile.Close()
	ctx, stop := untilSignal(ctx)
	defer stop()
	served := goTask("shutdown", func() error { return serve(ctx, &f, stdout, log) })
	select {
	case <-served.done:
	case <-ctx.Done():
		// A second signal now kills at once, as it does by default.
		stop()
	}
	if err := served.wait(shutdownLimit); err != nil {
		log.Error("tapdisk failed", "err", err)
		if errors.Is(err, syscall.EBUSY) {
			return exitBusy
		}
		return exitFail
	}
	return exitOK
}

// Shutdown's time limits. Control requests are cancelled first: one
// still running controlGrace later is stuck (an open blocked on its
// image) and is left behind. shutdownLimit bounds the whole shutdown,
// from the signal: past it tapdisk exits 1 without waiting for what is
// stuck (a request in a hung device), which leaves the images as a kill
// -9 would, and they survive that (Durability in doc.go). It is longer
// than the clean path's waits together (control, minors, TCP).
const (
	controlGrace  = 5 * time.Second
	shutdownLimit = controlGrace + 2*shutdownGrace + 10*time.Second
)

// serve runs the daemon until ctx ends or its last minor is detached.
func serve(ctx context.Context, f *flags, stdout io.Writer, log *slog.Logger) error {
	dir, err := rundir.Resolve(f.RunDir)
	if err != nil {
		return err
	}
	if err := dir.Create(); err != nil {
		return err
	}
	d := &daemon{
		dir: dir, pid: os.Getpid(), log: log,
		ringSlots: f.RingSlots, depth: f.Depth, openWait: f.OpenTimeout, nbdConns: f.NBDConns,
		limits:        nbd.Options{MaxConns: f.MaxConns, HandshakeTimeout: f.Handshake, IdlePoll: f.IdlePoll},
		drivers:       drivers.Options{DeferMetadata: f.DeferMetadata, FlushInterval: f.FlushInterval, ParentDirs: f.ParentDirs},
		minors:        make(map[int]*minor),
		exitWhenEmpty: len(f.Images) == 0,
		empty:         make(chan struct{}),
	}
	tcpServed, err := startTCP(ctx, d, f)
	if err != nil {
		return err
	}
	ctlPath := dir.Ctl(d.pid)
	ln, err := control.Listen(ctlPath)
	if err != nil {
		return errors.Join(err, stopTCP(d, tcpServed))
	}
	// The control socket comes first, so that tap-ctl finds whatever a
	// kill leaves of what follows; nothing says ready before every
	// image is open, so that a script never gets a dead socket's path.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	srv := control.NewServer(d, control.Options{Log: log, MaxConns: f.MaxCtlConns})
	ctl := goTask("control server", func() error { srv.Serve(ctx, ln); return nil })

	uris, err := openImages(ctx, d, f)
	if err == nil {
		fmt.Fprintln(stdout, ctlPath)
		for _, uri := range uris {
			fmt.Fprintln(stdout, uri)
		}
		log.Info("tapdisk ready", "control", ctlPath, "minors", len(uris))
		select {
		case <-ctx.Done():
			log.Info("shutting down", "cause", context.Cause(ctx))
		case <-d.empty:
			log.Info("last minor detached: exiting")
		case <-ctl.done:
			log.Error("control server stopped: exiting")
		}
	}
	// Stop taking control requests first, so nothing opens behind us;
	// close the minors before the TCP server, as that removes them from
	// it in the order a paused minor needs (see minor.close). So an
	// image that failed to open leaves the run directory as it was: the
	// minors give up their markers, the sockets go.
	cancel()
	err = errors.Join(err, ctl.wait(controlGrace))
	err = errors.Join(err, d.closeAll())
	return errors.Join(err, stopTCP(d, tcpServed))
}

// openImages opens the command line's images, each on a minor of its
// own (attachFree), and returns the NBD URI each is served at, each
// followed by its block device if --frontend makes one.
func openImages(ctx context.Context, d *daemon, f *flags) ([]string, error) {
	var uris []string
	for _, image := range f.Images {
		n, err := d.attachFree()
		if err != nil {
			return nil, err
		}
		rep, err := d.Open(ctx, control.OpenRequest{
			Minor: n, Image: image, ReadOnly: f.ReadOnly, NoDirect: f.NoDirect, Timeout: f.Timeout,
			Frontend: f.Frontend, Device: f.Device, Recover: f.Recover,
		})
		if err != nil {
			return nil, err
		}
		uris = append(uris, rep.URI)
		if rep.Device != "" {
			uris = append(uris, rep.Device)
		}
	}
	return uris, nil
}
