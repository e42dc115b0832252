package main

import (
	"context"
	"os/signal"
	"syscall"
)

// untilSignal is ctx, cancelled by SIGTERM or SIGINT: the clean shutdown.
func untilSignal(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
}
