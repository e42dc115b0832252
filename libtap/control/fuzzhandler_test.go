package control

import (
	"context"
	"testing"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/stats"
)

// checkedHandler passes requests on to a Handler after checking the
// Server's promise: a Handler only sees minors in range, images that
// are type:path, and timeouts that are not negative.
type checkedHandler struct {
	t *testing.T
	h Handler
}

func (c checkedHandler) minor(m int) {
	c.t.Helper()
	if m < 0 || m >= rundir.MaxMinors {
		c.t.Errorf("the handler got minor %d", m)
	}
}

func (c checkedHandler) image(spec string) {
	c.t.Helper()
	if _, err := disk.ParseChain(spec); err != nil {
		c.t.Errorf("the handler got image %q: %v", spec, err)
	}
}

func (c checkedHandler) List(ctx context.Context) ([]wire.Info, error) { return c.h.List(ctx) }

func (c checkedHandler) Attach(ctx context.Context, minor int) error {
	c.minor(minor)
	return c.h.Attach(ctx, minor)
}

func (c checkedHandler) Open(ctx context.Context, req OpenRequest) (OpenReply, error) {
	c.minor(req.Minor)
	c.image(req.Image)
	if req.Timeout < 0 {
		c.t.Errorf("the handler got timeout %d", req.Timeout)
	}
	return c.h.Open(ctx, req)
}

func (c checkedHandler) Pause(ctx context.Context, minor int) error {
	c.minor(minor)
	return c.h.Pause(ctx, minor)
}

func (c checkedHandler) Resume(ctx context.Context, minor int, image string) error {
	c.minor(minor)
	if image != "" {
		c.image(image)
	}
	return c.h.Resume(ctx, minor, image)
}

func (c checkedHandler) Close(ctx context.Context, minor int) error {
	c.minor(minor)
	return c.h.Close(ctx, minor)
}

func (c checkedHandler) Detach(ctx context.Context, minor int) error {
	c.minor(minor)
	return c.h.Detach(ctx, minor)
}

func (c checkedHandler) Stats(ctx context.Context, minor int) (wire.Info, error) {
	c.minor(minor)
	return c.h.Stats(ctx, minor)
}

func (c checkedHandler) SetRate(ctx context.Context, minor int, limits string) (stats.Limits, error) {
	c.minor(minor)
	return c.h.SetRate(ctx, minor, limits)
}

func (c checkedHandler) Coalesce(ctx context.Context, minor, top, base int) (wire.Coalesced, error) {
	c.minor(minor)
	if top < 1 || (base != 0 && base <= top) {
		c.t.Errorf("the handler got top %d, base %d", top, base)
	}
	return c.h.Coalesce(ctx, minor, top, base)
}
