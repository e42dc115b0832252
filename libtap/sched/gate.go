package sched

import (
	"context"
	"sync"
)

// gate admits driver operations while open. Shutting it waits for the
// operations admitted to finish and holds every later one until it
// opens again. Unlike a sync.RWMutex's Lock, the wait can be given up
// (a Pause whose context ends, behind a driver operation that hangs):
// giving up opens the gate at once, where an abandoned Lock would stay
// queued and keep blocking new readers until it was granted.
//
// One shut at a time: the VBD's lifecycle lock serialises its callers.
type gate struct {
	mu      sync.Mutex
	running int           // operations admitted and not finished
	shut    chan struct{} // non-nil while shut; closed when it opens
	idle    chan struct{} // non-nil while shutting waits for running to reach 0
}

// enter waits while the gate is shut, then admits one operation.
func (g *gate) enter() {
	g.mu.Lock()
	for g.shut != nil {
		shut := g.shut
		g.mu.Unlock()
		<-shut
		g.mu.Lock()
	}
	g.running++
	g.mu.Unlock()
}

// tryEnter admits one operation if the gate is open.
func (g *gate) tryEnter() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.shut != nil {
		return false
	}
	g.running++
	return true
}

// leave ends an operation admitted by enter or tryEnter.
func (g *gate) leave() {
	g.mu.Lock()
	g.running--
	if g.running == 0 && g.idle != nil {
		close(g.idle)
		g.idle = nil
	}
	g.mu.Unlock()
}

// close shuts the gate and waits for the running operations; if ctx ends
// first, it opens the gate again and returns ctx's error.
func (g *gate) close(ctx context.Context) error {
	g.mu.Lock()
	g.shut = make(chan struct{})
	if g.running == 0 {
		g.mu.Unlock()
		return nil
	}
	idle := make(chan struct{})
	g.idle = idle
	g.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.running == 0 { // the last one finished meanwhile
		return nil
	}
	g.idle = nil
	g.openLocked()
	return ctx.Err()
}

// open lets the held operations in.
func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.openLocked()
}

func (g *gate) openLocked() {
	close(g.shut)
	g.shut = nil
}
