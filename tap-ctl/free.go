package main

import (
	"context"
	"errors"
	"syscall"

	"gotap.dev/libtap/tapscan"
)

// free releases minor's marker, first removing the sockets a killed
// tapdisk left for it. A live tapdisk's minor is refused (EBUSY): its
// marker is locked.
func free(ctx context.Context, e *env, minor int) error {
	tds, err := tapscan.Scan(ctx, e.dir)
	if err != nil {
		return err
	}
	td, err := tapscan.FindMinor(tds, minor)
	switch {
	case errors.Is(err, syscall.ENOENT):
	case err != nil:
		return err
	case td.Dead:
		if err := e.dir.RemoveStale(td.Pid, minor); err != nil {
			return err
		}
	}
	return e.dir.Free(minor)
}
