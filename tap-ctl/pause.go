package main

import (
	"context"

	"gotap.dev/libtap/control"
)

type pauseCmd struct {
	target
}

func (p *pauseCmd) Run(ctx context.Context, e *env) error {
	return p.withClient(e.dir, func(c *control.Client) error { return c.Pause(ctx, p.Minor) })
}

type unpauseCmd struct {
	target
	Image string `short:"a" placeholder:"TYPE:PATH" help:"Reopen this image instead (same size), e.g. a new snapshot leaf."`
}

func (u *unpauseCmd) Run(ctx context.Context, e *env) error {
	image := u.Image
	if image != "" {
		var err error
		if image, err = absImage(image); err != nil {
			return err
		}
	}
	return u.withClient(e.dir, func(c *control.Client) error { return c.Resume(ctx, u.Minor, image) })
}
