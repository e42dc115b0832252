package main

import (
	"context"

	"gotap.dev/libtap/control"
)

type openCmd struct {
	target
	imageFlags
	// blktap's options gotap does not have, refused saying why.
	Existing  *int   `short:"e" placeholder:"MINOR" help:"blktap's read cache shared with another minor's parent: refused, gotap has no read cache."`
	ReadCache bool   `short:"r" help:"blktap's read cache: refused, gotap has no read cache (-D serves through the page cache)."`
	CBTLog    string `short:"C" placeholder:"LOG" help:"blktap's changed-block-tracking log: refused, gotap does not track changed blocks."`
	Encrypt   bool   `short:"E" help:"blktap's encryption key on stdin: refused, gotap does not encrypt images."`
}

// unsupported refuses blktap's open options gotap does not have.
func (o *openCmd) unsupported() error {
	switch {
	case o.Existing != nil:
		return errUnsupported("-e", "gotap has no read cache to share with another minor")
	case o.ReadCache:
		return errUnsupported("-r", "gotap has no read cache (-D serves through the page cache)")
	case o.CBTLog != "":
		return errUnsupported("-C", "gotap does not track changed blocks (blktap's CBT log)")
	case o.Encrypt:
		return errUnsupported("-E", "gotap does not encrypt images")
	}
	return nil
}

func (o *openCmd) Run(ctx context.Context, e *env) error {
	if err := o.unsupported(); err != nil {
		return err
	}
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
	deadline
	Force bool `short:"f" help:"Accepted for blktap's scripts: close always ends the frontends' connections once their requests in flight complete."`
}

func (cl *closeCmd) Run(ctx context.Context, e *env) error {
	return cl.run(ctx, func(ctx context.Context) error {
		return cl.withClient(e.dir, func(c *control.Client) error { return c.Close(ctx, cl.Minor) })
	})
}
