package main

import (
	"context"
	"syscall"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/stats"
)

// SetRate changes the limits of a minor's valve layer. Like Stats it
// never waits on the minor's lock: a limit is changed live, even while a
// pause drains or a resume retries.
func (d *daemon) SetRate(_ context.Context, n int, limits string) (stats.Limits, error) {
	m, err := d.get(n)
	if err != nil {
		return stats.Limits{}, err
	}
	s := m.cur.Load()
	if s == nil {
		return stats.Limits{}, control.Errorf(syscall.ENODEV, "minor %d has no image open", n)
	}
	l, err := s.vbd.ChangeLimits(limits)
	if err != nil {
		return l, err
	}
	d.log.Info("rate limits changed", "minor", n, "limits", l)
	return l, nil
}
