package main

import (
	"context"

	"gotap.dev/libtap/control"
)

type openCmd struct {
	target
	imageFlags
}

func (o *openCmd) Run(ctx context.Context, e *env) error {
	req, err := o.request(o.Minor)
	if err != nil {
		return err
	}
	return o.withClient(e.dir, func(c *control.Client) error {
		rep, err := c.Open(ctx, req)
		if err == nil {
			printOpened(e.stdout, rep)
		}
		return err
	})
}

type closeCmd struct {
	target
	Force bool `short:"f" help:"Accepted for blktap's scripts: close always ends the frontends' connections once their requests in flight complete."`
}

func (cl *closeCmd) Run(ctx context.Context, e *env) error {
	return cl.withClient(e.dir, func(c *control.Client) error { return c.Close(ctx, cl.Minor) })
}
