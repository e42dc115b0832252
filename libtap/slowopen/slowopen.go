// Package slowopen bounds opens that may never return: an image on an
// NFS server that stopped answering, a FIFO, a device that hangs. The
// open runs in a goroutine of its own; the caller waits at most a
// timeout, or until its context ends, and then fails with ETIMEDOUT while
// the open goes on. A result that arrives after the caller gave up is
// closed at once.
//
// A Guard lets one such late open be pending at a time: while it is, the
// next open through the same Guard is refused with EBUSY, so retrying an
// open that hangs cannot pile up goroutines and file descriptors.
package slowopen

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"
)

// ErrGaveUp marks an open the caller stopped waiting for, and ErrLate
// one refused because an earlier open through the same Guard is still
// pending; they unwrap to ETIMEDOUT and EBUSY.
var (
	ErrGaveUp error = &errnoError{"gave up waiting for it", syscall.ETIMEDOUT}
	ErrLate   error = &errnoError{"an earlier open has not returned", syscall.EBUSY}
)

// errnoError is a sentinel carrying the errno callers report.
type errnoError struct {
	msg   string
	errno syscall.Errno
}

func (e *errnoError) Error() string { return e.msg }
func (e *errnoError) Unwrap() error { return e.errno }

// Guard tracks the late open of one thing being opened (a minor, a
// VBD). The zero value is ready.
type Guard struct {
	mu    sync.Mutex
	what  string    // the late open's target, "" when none is pending
	since time.Time // when it started
}

// Do runs open and waits for it for at most timeout (no limit if 0) and
// until ctx ends; what names the target in messages. If it gives up, the
// result open returns later is handed to closeLate.
func Do[T any](ctx context.Context, g *Guard, timeout time.Duration, what string, open func() (T, error), closeLate func(T)) (T, error) {
	var zero T
	g.mu.Lock()
	if g.what != "" {
		err := fmt.Errorf("open %s: the open of %s started %v ago has not returned: %w",
			what, g.what, time.Since(g.since).Round(time.Second), ErrLate)
		g.mu.Unlock()
		return zero, err
	}
	g.mu.Unlock()

	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	start := time.Now()
	go func() {
		v, err := open()
		done <- result{v, err}
	}()
	var expired <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		expired = t.C
	}
	var why error
	select {
	case r := <-done:
		return r.v, r.err
	case <-expired:
		why = fmt.Errorf("no answer in %v (a server that stopped answering, a FIFO?)", timeout)
	case <-ctx.Done():
		why = context.Cause(ctx)
	}
	g.mu.Lock()
	g.what, g.since = what, start
	g.mu.Unlock()
	go func() {
		if r := <-done; r.err == nil {
			closeLate(r.v)
		}
		g.mu.Lock()
		g.what = ""
		g.mu.Unlock()
	}()
	return zero, fmt.Errorf("open %s: %w: %w", what, why, ErrGaveUp)
}
