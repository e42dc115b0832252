package main

import (
	"sync"
	"syscall"

	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/vbd"
)

// fencedExport is what the NBD servers see of a VBD: once fenced, the
// requests still arriving fail with ENXIO instead of reaching a VBD that
// is closing. Closing a paused VBD needs this: its frontends cannot
// drain first (their requests wait for a resume that will not come), so
// the VBD is closed under them, and a request read meanwhile must not be
// queued to a stopped scheduler, where it would never complete.
type fencedExport struct {
	*vbd.VBD
	mu     sync.RWMutex // Submit holds it shared, fence exclusively
	fenced bool
}

func (e *fencedExport) Submit(req *ring.Request) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	if e.fenced {
		req.Err = syscall.ENXIO
		req.Owner.Complete(req)
		return
	}
	e.VBD.Submit(req)
}

// fence waits for the Submit calls in progress (Submit never blocks) and
// turns away every later one. Extents needs no fence: a VBD closed while
// paused answers it with ENXIO, and one closed while running has no
// frontend left to ask.
func (e *fencedExport) fence() {
	e.mu.Lock()
	e.fenced = true
	e.mu.Unlock()
}
