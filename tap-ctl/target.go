package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/tapscan"
)

// target is the -p -m pair most commands take; the pid may be left out
// when the minor is attached, and is then found by asking every tapdisk.
type target struct {
	Pid   *int `short:"p" placeholder:"PID" help:"The tapdisk's pid (default: the one the minor is attached to)."`
	Minor int  `short:"m" required:"" placeholder:"MINOR" help:"The minor."`
}

// find is the tapdisk the target names, dead or alive.
func (t target) find(ctx context.Context, dir rundir.Dir) (tapscan.Tapdisk, error) {
	if t.Pid != nil {
		return tapscan.Tapdisk{Pid: *t.Pid, Dead: !tapscan.ProcessAlive(*t.Pid)}, nil
	}
	tds, err := tapscan.Scan(ctx, dir)
	if err != nil {
		return tapscan.Tapdisk{}, err
	}
	return tapscan.FindMinor(tds, t.Minor)
}

// dial connects to the tapdisk the target names.
func (t target) dial(ctx context.Context, dir rundir.Dir) (*control.Client, int, error) {
	td, err := t.find(ctx, dir)
	if err != nil {
		return nil, 0, err
	}
	c, err := dialPid(dir, td.Pid)
	return c, td.Pid, err
}

// dialPid connects to the tapdisk with this pid, explaining the two
// usual failures.
func dialPid(dir rundir.Dir, pid int) (*control.Client, error) {
	c, err := control.Dial(dir.Ctl(pid))
	switch {
	case errors.Is(err, syscall.ENOENT):
		return nil, fmt.Errorf("no tapdisk with pid %d in %s: %w", pid, dir, err)
	case errors.Is(err, syscall.ECONNREFUSED) && !tapscan.ProcessAlive(pid):
		return nil, fmt.Errorf("tapdisk %d is dead (killed?) and left its sockets: tap-ctl destroy -m MINOR cleans up: %w", pid, err)
	case err != nil:
		return nil, err
	}
	return c, nil
}

// withClient runs fn on a connection to the target's tapdisk.
func (t target) withClient(ctx context.Context, dir rundir.Dir, fn func(*control.Client) error) error {
	c, _, err := t.dial(ctx, dir)
	if err != nil {
		return err
	}
	defer c.Disconnect()
	return fn(c)
}
