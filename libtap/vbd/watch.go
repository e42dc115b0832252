package vbd

import (
	"time"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/ring"
)

// watchdog logs, at most every StuckAfter, how many requests have been in
// flight for longer than StuckAfter. A paused VBD's waiting requests are
// expected to wait, so it stays quiet then.
func (v *VBD) watchdog() {
	stuckAfter := v.opts.StuckAfter
	tick := time.NewTicker(min(time.Second, stuckAfter/2))
	defer tick.Stop()
	var lastLog time.Time
	for {
		select {
		case <-v.stopWatch:
			return
		case now := <-tick.C:
			if v.State()&(wire.Paused|wire.PauseRequested) != 0 || now.Sub(lastLog) < stuckAfter {
				continue
			}
			stuck, oldest := 0, time.Duration(0)
			v.ring.Each(func(r *ring.Request) {
				if since, ok := r.InFlightSince(); ok && now.Sub(since) > stuckAfter {
					stuck++
					oldest = max(oldest, now.Sub(since))
				}
			})
			if stuck > 0 {
				v.log.Warn("requests stuck", "count", stuck, "oldest", oldest.Round(time.Millisecond))
				lastLog = now
			}
		}
	}
}
