package main

import (
	"context"
	"syscall"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/control/wire"
)

// Coalesce merges layers of a minor's chain while it serves. It does not
// hold the minor's lock through the copy, which can take minutes: a
// pause, close or stats meanwhile goes through, and a pause or close
// interrupts the coalesce (the VBD's own lifecycle lock orders them).
func (d *daemon) Coalesce(ctx context.Context, n, top, base int) (wire.Coalesced, error) {
	m, err := d.get(n)
	if err != nil {
		return wire.Coalesced{}, err
	}
	s := m.cur.Load()
	if s == nil {
		return wire.Coalesced{}, control.Errorf(syscall.ENODEV, "minor %d has no image open", n)
	}
	d.log.Info("coalesce", "minor", n, "top", top, "base", base)
	res, err := s.vbd.Coalesce(ctx, top, base)
	if err != nil {
		d.log.Warn("coalesce failed", "minor", n, "err", err)
		return res, err
	}
	d.log.Info("coalesced", "minor", n, "sectors", res.Sectors, "merged", res.Merged, "paused", res.Paused)
	return res, nil
}
