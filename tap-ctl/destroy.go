package main

import (
	"context"
	"errors"
	"io/fs"
)

type destroyCmd struct {
	target
}

// Run is close + detach + free. A tapdisk that was killed has nothing
// to close: what it left is removed.
func (d *destroyCmd) Run(ctx context.Context, e *env) error {
	td, err := d.find(ctx, e.dir)
	if err != nil {
		return err
	}
	if td.Dead {
		return free(ctx, e, d.Minor)
	}
	c, err := dialPid(e.dir, td.Pid)
	if err != nil {
		return err
	}
	if err := c.Close(ctx, d.Minor); err != nil {
		c.Disconnect()
		return err
	}
	if err := detach(ctx, e.dir, c, td.Pid, d.Minor); err != nil {
		return err
	}
	// A minor the tapdisk was given on its command line has no marker
	// once detached: there is nothing to free.
	if err := e.dir.Free(d.Minor); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
