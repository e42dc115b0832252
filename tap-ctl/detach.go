package main

import (
	"context"
	"syscall"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/tapscan"
)

type detachCmd struct {
	target
}

func (d *detachCmd) Run(ctx context.Context, e *env) error {
	c, pid, err := d.dial(e.dir)
	if err != nil {
		return err
	}
	return detach(ctx, e.dir, c, pid, d.Minor)
}

// exitTimeout bounds the wait for a tapdisk to exit after its last
// minor is detached.
const exitTimeout = 10 * time.Second

// detach detaches minor and hangs up. When that was the tapdisk's last
// minor it waits for the tapdisk to exit (a spawned one does), so that
// what follows finds neither its process nor its sockets.
func detach(ctx context.Context, dir rundir.Dir, c *control.Client, pid, minor int) error {
	infos, err := c.List(ctx)
	if err == nil {
		err = c.Detach(ctx, minor)
	}
	c.Disconnect()
	if err != nil || len(infos) != 1 {
		return err
	}
	deadline := time.Now().Add(exitTimeout)
	for tapscan.ProcessAlive(pid) || socketThere(dir.Ctl(pid)) {
		if time.Now().After(deadline) {
			// Started with images of its own, it stays: not an error.
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return nil
}

func socketThere(path string) bool {
	var st syscall.Stat_t
	return syscall.Lstat(path, &st) == nil
}
