// Package accept is the accept loop of every tapdisk listener (each NBD
// socket, the TCP listener, the control socket), written once so that
// each holds the same line against a client that opens connections and
// then does nothing, or does it very slowly:
//
//   - At most Max connections are handled at once. One more is accepted
//     and closed at once: the listen backlog keeps draining, the
//     process's file descriptors stay bounded, and good clients get in
//     as soon as slots free up.
//   - Every connection starts with a deadline (Handshake), which the
//     handler extends or clears once the client has done its part, so a
//     client that stays silent or trickles bytes gives its slot back.
//   - An accept error (out of file descriptors, say) never ends the loop:
//     it is logged and retried after a pause that grows to a second, so
//     the listener comes back once descriptors are free again.
//   - Both are logged at most once per interval, then counted
//     (package ratelog), so a flood cannot fill the log either.
package accept

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"gotap.dev/libtap/ratelog"
)

// Options bound one listener.
type Options struct {
	// Max is how many connections are handled at once (at least 1).
	Max int
	// Handshake is the deadline a connection starts with; 0 is none.
	Handshake time.Duration
	// Admit, if set, decides in the loop, before a slot is taken,
	// whether a connection is served: one refused (and closed) costs no
	// slot, so refused clients never keep good ones out. It must not
	// block.
	Admit func(net.Conn) bool
	Log   *slog.Logger // nil: slog.Default()
}

// The pause after a failed accept doubles from minBackoff to maxBackoff;
// net/http's server pauses the same way.
const (
	minBackoff = 5 * time.Millisecond
	maxBackoff = time.Second
)

// logEvery is the least time between two lines about connections over
// the limit, or about failed accepts, on one listener.
const logEvery = 10 * time.Second

// Log messages, each rate-limited.
const (
	msgFull   = "connection limit reached: closing new connections"
	msgFailed = "accept failed: retrying"
)

// Serve accepts connections on ln until ctx ends (it then closes ln) or
// ln is closed, and runs handle on each in a goroutine of its own; the
// connection is closed when handle returns. Serve returns once the loop
// has stopped and every handle has returned: a handler that must end
// when ctx does watches ctx itself.
func Serve(ctx context.Context, ln net.Listener, o Options, handle func(net.Conn)) {
	log := o.Log
	if log == nil {
		log = slog.Default()
	}
	log = log.With("listener", ln.Addr().String())
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	var handlers sync.WaitGroup
	defer handlers.Wait()
	slots := make(chan struct{}, max(o.Max, 1))
	full := ratelog.New(log, msgFull, 1, logEvery)
	failed := ratelog.New(log, msgFailed, 1, logEvery)
	var backoff time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, minBackoff), maxBackoff)
			if failed.Allow() {
				log.Error(msgFailed, "err", err, "pause", backoff)
			}
			pause(ctx, backoff)
			continue
		}
		backoff = 0
		if o.Admit != nil && !o.Admit(nc) {
			nc.Close()
			continue
		}
		select {
		case slots <- struct{}{}:
		default:
			nc.Close()
			if full.Allow() {
				log.Warn(msgFull, "limit", cap(slots))
			}
			continue
		}
		if o.Handshake > 0 {
			nc.SetDeadline(time.Now().Add(o.Handshake))
		}
		handlers.Go(func() {
			defer func() { <-slots }()
			defer nc.Close()
			handle(nc)
		})
	}
}

// pause sleeps for d, or until ctx ends.
func pause(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
