package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/vbd"
)

// askTimeout bounds one tapdisk's answer to a poll: a stopped or wedged
// tapdisk must not hold up the others' rows.
const askTimeout = 500 * time.Millisecond

// runDir is the real source: one control connection per tapdisk found
// in the run directory, kept between polls and redialled after a failure.
type runDir struct {
	dir rundir.Dir

	mu      sync.Mutex // guards clients: polls and actions run in commands
	clients map[int]*control.Client
}

func newRunDir(dir rundir.Dir) *runDir {
	return &runDir{dir: dir, clients: map[int]*control.Client{}}
}

// Poll asks every tapdisk at once for its VBDs.
func (r *runDir) Poll(ctx context.Context) (snapshot, error) {
	ctls, err := r.dir.List()
	if err != nil {
		return snapshot{}, err
	}
	r.forget(ctls)
	tds := make([]tapdisk, len(ctls))
	var wg sync.WaitGroup
	for i, ctl := range ctls {
		wg.Go(func() {
			tds[i] = tapdisk{Pid: ctl.Pid}
			tds[i].VBDs, tds[i].Err = r.list(ctx, ctl.Pid)
		})
	}
	wg.Wait()
	return snapshot{At: time.Now(), Tapdisks: tds}, nil
}

func (r *runDir) list(ctx context.Context, pid int) ([]vbd.Info, error) {
	c, err := r.client(pid)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	infos, err := c.List(ctx)
	if err != nil {
		r.drop(pid)
	}
	return infos, err
}

// client is the connection to pid's tapdisk, dialled if need be.
func (r *runDir) client(pid int) (*control.Client, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.clients[pid]; c != nil {
		return c, nil
	}
	c, err := control.Dial(r.dir.Ctl(pid))
	if err != nil {
		return nil, err
	}
	r.clients[pid] = c
	return c, nil
}

// drop hangs up on pid, so the next poll dials afresh.
func (r *runDir) drop(pid int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if c := r.clients[pid]; c != nil {
		c.Disconnect()
		delete(r.clients, pid)
	}
}

// forget hangs up on tapdisks whose socket has gone.
func (r *runDir) forget(ctls []rundir.Ctl) {
	present := map[int]bool{}
	for _, c := range ctls {
		present[c.Pid] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for pid, c := range r.clients {
		if !present[pid] {
			c.Disconnect()
			delete(r.clients, pid)
		}
	}
}

// Do carries out an action over a connection of its own: a pause may
// take a while to drain requests, and polls must not queue behind it.
func (r *runDir) Do(ctx context.Context, a action, k vbdID) (string, error) {
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
