package vbd

import (
	"sync"
	"time"

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
			if v.State()&(Paused|PauseRequested) != 0 || now.Sub(lastLog) < stuckAfter {
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

// recentErrors keeps the last few error messages for tap-ctl stats and
// tapmon's detail view.
type recentErrors struct {
	mu   sync.Mutex
	msgs []ErrorRecord
}

// ErrorRecord is one remembered error.
type ErrorRecord struct {
	Time    time.Time `json:"time"`
	Message string    `json:"message"`
}

const keepErrors = 8

func (e *recentErrors) add(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.msgs) == keepErrors {
		e.msgs = append(e.msgs[:0], e.msgs[1:]...)
	}
	e.msgs = append(e.msgs, ErrorRecord{time.Now(), err.Error()})
}

func (e *recentErrors) list() []ErrorRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]ErrorRecord(nil), e.msgs...)
}
