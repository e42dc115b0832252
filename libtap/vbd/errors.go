package vbd

import (
	"fmt"
	"sync"
	"time"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/ring"
)

// keepErrors is how many errors a VBD remembers: the latest ones.
const keepErrors = 8

// recentErrors keeps the VBD's last few errors, failed lifecycle
// operations and failed I/O, for tap-ctl stats and tapmon's detail view.
// A fixed ring, formatted only when read: a disk failing every request
// costs a lock per failure, and no memory.
type recentErrors struct {
	mu     sync.Mutex
	events [keepErrors]errorEvent
	next   int // where the next one goes
	kept   int
}

// errorEvent is a failure as it happened; io tells a request's failure
// (op on n bytes at off) from a lifecycle operation's.
type errorEvent struct {
	at     time.Time
	err    error
	io     bool
	op     ring.Op
	off, n int64
}

func (e *recentErrors) add(err error) { e.push(errorEvent{at: time.Now(), err: err}) }

// addIO records a failed request; requests merged into one I/O are one
// failure, on their whole range. It suits sched.Config.Failed.
func (e *recentErrors) addIO(op ring.Op, off, n int64, err error) {
	e.push(errorEvent{at: time.Now(), err: err, io: true, op: op, off: off, n: n})
}

func (e *recentErrors) push(ev errorEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.events[e.next] = ev
	e.next = (e.next + 1) % keepErrors
	e.kept = min(e.kept+1, keepErrors)
}

// list is the errors kept, oldest first.
func (e *recentErrors) list() []wire.ErrorRecord {
	e.mu.Lock()
	defer e.mu.Unlock()
	var recs []wire.ErrorRecord
	for i := range e.kept {
		ev := e.events[(e.next-e.kept+i+keepErrors)%keepErrors]
		recs = append(recs, wire.ErrorRecord{Time: ev.at, Message: ev.message()})
	}
	return recs
}

func (ev errorEvent) message() string {
	switch {
	case !ev.io:
		return ev.err.Error()
	case ev.op == ring.Flush:
		return fmt.Sprintf("flush: %v", ev.err)
	}
	return fmt.Sprintf("%s of %d bytes at %d: %v", ev.op, ev.n, ev.off, ev.err)
}
