package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/tapscan"
)

// runDir is the real source: the tapdisks of a run directory as tapscan
// finds them (tap-ctl list's view), and actions over their sockets.
type runDir struct{ dir rundir.Dir }

// Poll scans the run directory. A scan cut short by its deadline still
// counts: the tapdisks that did not answer in time carry the error.
func (r runDir) Poll(ctx context.Context) (snapshot, error) {
	tds, err := tapscan.Scan(ctx, r.dir)
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return snapshot{}, err
	}
	s := snapshot{At: time.Now()}
	for _, td := range tds {
		s.Tapdisks = append(s.Tapdisks, tapdisk{Pid: td.Pid, Dead: td.Dead, VBDs: td.VBDs, Err: td.Err})
	}
	return s, nil
}

// Do carries out an action over a connection of its own: a pause may
// take a while to drain requests, and polls must not queue behind it.
func (r runDir) Do(ctx context.Context, a action, k vbdID) (string, error) {
	c, err := control.Dial(r.dir.Ctl(k.Pid))
	if err != nil {
		return "", err
	}
	defer c.Disconnect()
	done := fmt.Sprintf("%sd minor %d of tapdisk %d", a.verb(), k.Minor, k.Pid)
	switch a {
	case actPause:
		err = c.Pause(ctx, k.Minor)
	case actResume:
		err = c.Resume(ctx, k.Minor, "")
	case actSnapshot:
		done, err = snapshotVBD(ctx, c, k.Minor)
	}
	if err != nil {
		return "", fmt.Errorf("%s minor %d of tapdisk %d: %w", a.verb(), k.Minor, k.Pid, err)
	}
	return done, nil
}
