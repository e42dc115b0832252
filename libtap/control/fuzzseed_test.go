package control

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"gotap.dev/libtap/control/wire"
)

var quietLog = slog.New(slog.NewTextHandler(io.Discard, nil))

// recordClient runs our Client through every operation against a
// Server of the fake handler and returns what it sent, one byte string
// per connection: the session, then the watch (which takes a connection
// of its own).
func recordClient(tb testing.TB) [][]byte {
	tb.Helper()
	dir := tb.TempDir()
	ln, err := Listen(filepath.Join(dir, "ctl"))
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan struct{})
	go func() {
		defer close(served)
		NewServer(newFake(), Options{Log: quietLog}).Serve(ctx, ln)
	}()
	defer func() { cancel(); <-served }()
	rec := startRecorder(tb, filepath.Join(dir, "rec"), ln.Addr().String())

	c, err := Dial(rec.path)
	if err != nil {
		tb.Fatal(err)
	}
	steps := []func() error{
		func() error { _, err := c.Pid(ctx); return err },
		func() error { return c.Attach(ctx, 1) },
		func() error {
			_, err := c.Open(ctx, OpenRequest{Minor: 1, Image: "ram:1M", ReadOnly: true, NoDirect: true, Timeout: 30})
			return err
		},
		func() error { _, err := c.List(ctx); return err },
		func() error { _, err := c.Stats(ctx, 1); return err },
		func() error { _, err := c.SetRate(ctx, 1, "rbps=20971520"); return err },
		func() error { _, err := c.Coalesce(ctx, 1, 1, 0); return err },
		func() error { return c.Pause(ctx, 1) },
		func() error { return c.Resume(ctx, 1, "ram:1M") },
		func() error { return c.Close(ctx, 1) },
		func() error { return c.Detach(ctx, 1) },
		func() error { _, err := c.Stats(ctx, 1); return err }, // ENOENT now
	}
	for i, step := range steps {
		if err := step(); err != nil && i != len(steps)-1 {
			tb.Fatalf("recording step %d: %v", i, err)
		}
	}
	c.Attach(ctx, 2)
	err = c.Watch(ctx, 2, 10*time.Millisecond, func(wire.Info) error { return ErrStopWatch })
	if err != nil {
		tb.Fatalf("recording the watch: %v", err)
	}
	c.Disconnect()
	return rec.wait(2)
}

// recorder forwards each connection to the server's socket and keeps
// what the client sent on it.
type recorder struct {
	path string
	ln   net.Listener
	mu   sync.Mutex
	sent map[int][]byte // by the connection's rank in accepting
	cond *sync.Cond
}

func startRecorder(tb testing.TB, path, target string) *recorder {
	tb.Helper()
	ln, err := net.Listen("unix", path)
	if err != nil {
		tb.Fatal(err)
	}
	r := &recorder{path: path, ln: ln, sent: map[int][]byte{}}
	r.cond = sync.NewCond(&r.mu)
	go func() {
		for i := 0; ; i++ {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s, err := net.Dial("unix", target)
			if err != nil {
				c.Close()
				continue
			}
			go io.Copy(c, s)
			go r.forward(i, c, s)
		}
	}()
	return r
}

// forward copies what the client sends to the server until the client
// hangs up, then keeps a copy.
func (r *recorder) forward(i int, c, s net.Conn) {
	var got bytes.Buffer
	io.Copy(io.MultiWriter(s, &got), c)
	s.Close()
	c.Close()
	r.mu.Lock()
	r.sent[i] = got.Bytes()
	r.cond.Broadcast()
	r.mu.Unlock()
}

// wait returns what the first n connections sent, in the order they
// connected, once they have hung up; the listener is closed.
func (r *recorder) wait(n int) [][]byte {
	r.ln.Close()
	r.mu.Lock()
	defer r.mu.Unlock()
	for len(r.sent) < n {
		r.cond.Wait()
	}
	out := make([][]byte, n)
	for i := range out {
		out[i] = r.sent[i]
	}
	return out
}
