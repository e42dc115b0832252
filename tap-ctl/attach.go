package main

import (
	"context"

	"gotap.dev/libtap/control"
)

type attachCmd struct {
	Pid   int `short:"p" required:"" placeholder:"PID" help:"The tapdisk's pid."`
	Minor int `short:"m" required:"" placeholder:"MINOR" help:"The minor (tap-ctl allocate reserves one)."`
}

func (a *attachCmd) Run(ctx context.Context, e *env) error {
	t := target{Pid: &a.Pid, Minor: a.Minor}
	return t.withClient(e.dir, func(c *control.Client) error { return c.Attach(ctx, a.Minor) })
}
