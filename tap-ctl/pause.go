package main

import (
	"context"

	"gotap.dev/libtap/control"
)

type pauseCmd struct {
	target
	deadline
}

func (p *pauseCmd) Run(ctx context.Context, e *env) error {
	return p.run(ctx, func(ctx context.Context) error {
		return p.withClient(e.dir, func(c *control.Client) error { return c.Pause(ctx, p.Minor) })
	})
}

type unpauseCmd struct {
	target
	Image  string `short:"a" placeholder:"TYPE:PATH" help:"Reopen this image instead (same size, or larger: the disk grows), e.g. a new snapshot leaf."`
	CBTLog string `short:"c" placeholder:"LOG" help:"blktap's changed-block-tracking log: refused, gotap does not track changed blocks."`
}

func (u *unpauseCmd) Run(ctx context.Context, e *env) error {
	if u.CBTLog != "" {
		return errUnsupported("-c", "gotap does not track changed blocks (blktap's CBT log)")
	}
	image := u.Image
	if image != "" {
		var err error
		if image, err = absImage(image); err != nil {
			return err
		}
	}
	return u.withClient(e.dir, func(c *control.Client) error { return c.Resume(ctx, u.Minor, image) })
}
