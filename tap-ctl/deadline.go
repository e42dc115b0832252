package main

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"time"
)

// deadline is blktap's -t SECS on close, pause and destroy: how long the
// operation may take (SM passes -t 120 to close).
type deadline struct {
	Timeout int `short:"t" placeholder:"SECS" help:"Give up after SECS seconds with ETIMEDOUT (default: no limit). The tapdisk finishes the operation anyway."`
}

// run runs op within the deadline; running out of time is ETIMEDOUT.
func (d deadline) run(ctx context.Context, op func(context.Context) error) error {
	if d.Timeout < 0 {
		return fmt.Errorf("-t %d: want seconds ≥ 0: %w", d.Timeout, syscall.EINVAL)
	}
	if d.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(d.Timeout)*time.Second)
		defer cancel()
	}
	err := op(ctx)
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("not done within %d s: %w", d.Timeout, syscall.ETIMEDOUT)
	}
	return err
}
