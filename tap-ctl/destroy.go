package main

import (
	"context"
	"errors"
	"io/fs"
)

type destroyCmd struct {
	target
	deadline
}

// Run is close + detach + free, on the tapdisk the minor's marker names
// (see target.holder). When that tapdisk was killed, or there is none,
// there is nothing to close: free removes what it left.
func (d *destroyCmd) Run(ctx context.Context, e *env) error {
	return d.run(ctx, func(ctx context.Context) error { return d.destroy(ctx, e) })
}

func (d *destroyCmd) destroy(ctx context.Context, e *env) error {
	pid, alive, err := d.holder(e.dir)
	if err != nil {
		return err
	}
	if !alive {
		return e.dir.Free(d.Minor)
	}
	c, err := dialPid(e.dir, pid)
	if err != nil {
		return err
	}
	if err := c.Close(ctx, d.Minor); err != nil {
		c.Disconnect()
		return err
	}
	if err := detach(ctx, e.dir, c, pid, d.Minor); err != nil {
		return err
	}
	// A minor the tapdisk was given on its command line has no marker
	// once detached: there is nothing to free.
	if err := e.dir.Free(d.Minor); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
