package main

import (
	"errors"
	"fmt"
	"io/fs"
	"syscall"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/tapscan"
)

// target is the -p -m pair most commands take; the pid may be left out
// when the minor is attached, and is then read from the minor's marker.
type target struct {
	Pid   *int `short:"p" placeholder:"PID" help:"The tapdisk's pid (default: the one the minor is attached to)."`
	Minor int  `short:"m" required:"" placeholder:"MINOR" help:"The minor."`
}

// holder is the tapdisk the target names: -p, else the one the minor's
// marker names (rundir.Holder), which holds the minor or died holding
// it. Never a tapdisk that merely answers for the minor: only the
// holder may serve it. pid 0: the minor has no tapdisk.
func (t target) holder(dir rundir.Dir) (pid int, alive bool, err error) {
	if t.Pid != nil {
		return *t.Pid, tapscan.ProcessAlive(*t.Pid), nil
	}
	m, err := dir.Holder(t.Minor)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, false, nil
	}
	return m.Pid, m.Held, err
}

// dial connects to the tapdisk the target names. A dead holder is not
// dialled: its pid may be another process's by now.
func (t target) dial(dir rundir.Dir) (*control.Client, int, error) {
	pid, alive, err := t.holder(dir)
	switch {
	case err != nil:
		return nil, 0, err
	case pid == 0:
		return nil, 0, fmt.Errorf("no tapdisk has minor %d: %w", t.Minor, syscall.ENOENT)
	case !alive && t.Pid == nil:
		return nil, 0, fmt.Errorf("tapdisk %d holding minor %d is dead (killed?): tap-ctl destroy -m %d cleans up: %w", pid, t.Minor, t.Minor, syscall.ECONNREFUSED)
	}
	c, err := dialPid(dir, pid)
	return c, pid, err
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
func (t target) withClient(dir rundir.Dir, fn func(*control.Client) error) error {
	c, _, err := t.dial(dir)
	if err != nil {
		return err
	}
	defer c.Disconnect()
	return fn(c)
}
