// Package tapscan finds the tapdisks of a run directory and what each
// serves, by asking every control socket there. tap-ctl list shows the
// result; xmsnap uses it to find the tapdisk serving an image. (A
// minor's tapdisk is the one its marker names: rundir.Holder.)
//
// A control socket nobody listens on, whose process is gone, belongs to
// a tapdisk that was killed: it is reported Dead, with a VBD in state
// DEAD for each minor it left (a marker naming it, or an NBD socket).
package tapscan

import (
	"context"
	"errors"
	"slices"
	"sync"
	"syscall"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/rundir"
)

// askTimeout bounds the wait for one tapdisk's answer, so that one that
// hangs cannot hang a listing.
const askTimeout = 5 * time.Second

// Tapdisk is one control socket of the run directory.
type Tapdisk struct {
	Pid  int
	Dead bool        // killed: only its sockets are left
	VBDs []wire.Info // its minors; for a dead one, a DEAD VBD per NBD socket left
	Err  error       // a live tapdisk that did not answer (another user's, say)
}

// asking bounds the tapdisks asked at once.
const asking = 16

// Scan asks every tapdisk of dir for its minors, several at once, so
// that tapdisks that do not answer cost one askTimeout, not one each.
func Scan(ctx context.Context, dir rundir.Dir) ([]Tapdisk, error) {
	ctls, err := dir.List()
	if err != nil {
		return nil, err
	}
	tds := make([]Tapdisk, len(ctls))
	gone := make([]bool, len(ctls))
	var wg sync.WaitGroup
	slots := make(chan struct{}, asking)
	for i, ctl := range ctls {
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			tds[i], gone[i] = ask(ctx, dir, ctl)
		})
	}
	wg.Wait()
	var kept []Tapdisk
	for i, td := range tds {
		if !gone[i] {
			kept = append(kept, td)
		}
	}
	return kept, ctx.Err()
}

// ask lists one tapdisk's minors; gone when it exited meanwhile.
func ask(ctx context.Context, dir rundir.Dir, ctl rundir.Ctl) (td Tapdisk, gone bool) {
	td.Pid = ctl.Pid
	ctx, cancel := context.WithTimeout(ctx, askTimeout)
	defer cancel()
	c, err := control.Dial(ctl.Path)
	if err == nil {
		defer c.Disconnect()
		td.VBDs, err = c.List(ctx)
	}
	switch {
	case err == nil:
	case errors.Is(err, syscall.ENOENT):
		return td, true
	case Died(err, ctl.Pid):
		td.Dead = true
		td.VBDs, err = deadVBDs(dir, ctl.Pid)
		td.Err = err
	default:
		// Refused while alive: still starting (bound, not yet listening).
		td.Err = err
	}
	return td, false
}

// Died reports whether err, from a connection to tapdisk pid's control
// socket, says the tapdisk died: refused or cut, and the process gone
// within deathGrace.
func Died(err error, pid int) bool {
	cut := errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE)
	return cut && !aliveAfter(pid, deathGrace)
}

// deathGrace is how long a tapdisk that refused or reset a connection
// may take to be seen dead: a process killed meanwhile closes its
// sockets before it becomes a zombie.
const deathGrace = time.Second

// aliveAfter reports whether pid is still alive, waiting up to grace
// for it to die.
func aliveAfter(pid int, grace time.Duration) bool {
	for deadline := time.Now().Add(grace); ProcessAlive(pid); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			return true
		}
	}
	return false
}

// deadVBDs are the minors a dead tapdisk left: those whose marker still
// names it (attached, open or not) and those it left NBD sockets for.
func deadVBDs(dir rundir.Dir, pid int) ([]wire.Info, error) {
	minors, err := dir.NBDMinors(pid)
	if err != nil {
		return nil, err
	}
	markers, err := dir.Minors()
	if err != nil {
		return nil, err
	}
	for _, m := range markers {
		if m.Pid == pid && !slices.Contains(minors, m.N) {
			minors = append(minors, m.N)
		}
	}
	slices.Sort(minors)
	infos := make([]wire.Info, len(minors))
	for i, m := range minors {
		infos[i] = wire.Unserved(m, wire.Dead)
	}
	return infos, nil
}
