package accept

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// logBuf collects log lines from several goroutines.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *logBuf) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

func listen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("unix", filepath.Join(t.TempDir(), "sock"))
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

func dial(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("unix", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(5 * time.Second))
	return c
}

// serve runs Serve in the background; stop cancels it and waits for it
// to return.
func serve(t *testing.T, ln net.Listener, o Options, handle func(net.Conn)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Serve(ctx, ln, o, handle)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Serve still running 5 s after its context ended")
		}
	}
	t.Cleanup(stop)
	return stop
}

// echo answers one line with "ok" and then holds the connection until
// the client hangs up.
func echo(c net.Conn) {
	if _, err := c.Read(make([]byte, 1)); err != nil {
		return
	}
	c.Write([]byte("ok"))
	io.Copy(io.Discard, c)
}

// served reports whether the handler answers on c: "ok", or EOF when
// the connection was closed at once.
func served(t *testing.T, c net.Conn) bool {
	t.Helper()
	c.Write([]byte("x"))
	b := make([]byte, 2)
	_, err := io.ReadFull(c, b)
	switch {
	case err == nil && string(b) == "ok":
		return true
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return false
	}
	t.Fatalf("read: %q, %v; want ok or a hang-up", b, err)
	return false
}

// TestLimit: connections beyond Max are closed at once and logged (once
// per interval, with a count); a slot given back is taken by the next
// client.
func TestLimit(t *testing.T) {
	var log logBuf
	ln := listen(t)
	serve(t, ln, Options{Max: 2, Log: log.logger()}, echo)
	a, b := dial(t, ln), dial(t, ln)
	if !served(t, a) || !served(t, b) {
		t.Fatal("connections within the limit not served")
	}
	for range 3 {
		if served(t, dial(t, ln)) {
			t.Fatal("a third connection was served with a limit of 2")
		}
	}
	if got := strings.Count(log.String(), msgFull); got != 1 {
		t.Errorf("%d log lines for 3 refusals within %v; want 1:\n%s", got, logEvery, log.String())
	}
	a.Close()
	if !servedSoon(t, ln) {
		t.Fatal("no new connection served 5 s after one of two hung up")
	}
}

// servedSoon reports whether a new connection is served within 5 s: a
// slot is given back just after its connection is closed.
func servedSoon(t *testing.T, ln net.Listener) bool {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); {
		if served(t, dial(t, ln)) {
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

// TestAdmit: a connection Admit refuses is closed and takes no slot.
func TestAdmit(t *testing.T) {
	ln := listen(t)
	var n atomic.Int32
	admit := func(net.Conn) bool { return n.Add(1)%2 == 0 } // every other one
	serve(t, ln, Options{Max: 1, Admit: admit}, echo)
	if served(t, dial(t, ln)) {
		t.Fatal("a refused connection was served")
	}
	held := dial(t, ln)
	if !served(t, held) {
		t.Fatal("an admitted connection was not served")
	}
	// The only slot is held: a refused connection is closed all the same,
	// and the next admitted one is closed for want of a slot.
	for range 2 {
		if served(t, dial(t, ln)) {
			t.Fatal("served beyond the limit")
		}
	}
	if got := n.Load(); got != 4 {
		t.Errorf("Admit called %d times; want 4", got)
	}
}

// TestHandshakeDeadline: a client that sends nothing is cut off after
// Handshake, and its slot goes to the next one.
func TestHandshakeDeadline(t *testing.T) {
	ln := listen(t)
	serve(t, ln, Options{Max: 1, Handshake: 200 * time.Millisecond}, echo)
	idle := dial(t, ln)
	start := time.Now()
	if _, err := idle.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Fatalf("silent client: read %v; want EOF (closed by the server)", err)
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("silent client cut off after %v; want about 200ms", took)
	}
	if !servedSoon(t, ln) {
		t.Error("the slot of the silent client was not given back")
	}
}

// flakyListener fails its first accepts with errs, then accepts.
type flakyListener struct {
	net.Listener
	mu    sync.Mutex
	errs  []error
	times []time.Time // of every failed accept
}

func (l *flakyListener) Accept() (net.Conn, error) {
	l.mu.Lock()
	if len(l.errs) > 0 {
		err := l.errs[0]
		l.errs = l.errs[1:]
		l.times = append(l.times, time.Now())
		l.mu.Unlock()
		return nil, err
	}
	l.mu.Unlock()
	return l.Listener.Accept()
}

// TestAcceptErrors: failed accepts (out of file descriptors, aborted
// connections) are retried after a growing pause, logged, and never end
// the loop.
func TestAcceptErrors(t *testing.T) {
	var log logBuf
	emfile := &net.OpError{Op: "accept", Net: "unix", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	errs := []error{emfile, emfile, emfile, emfile, syscall.ECONNABORTED, errors.New("anything else")}
	ln := &flakyListener{Listener: listen(t), errs: errs}
	serve(t, ln, Options{Max: 4, Log: log.logger()}, echo)
	if !served(t, dial(t, ln)) {
		t.Fatal("not served after accept errors")
	}
	ln.mu.Lock()
	times := ln.times
	ln.mu.Unlock()
	if len(times) != len(errs) {
		t.Fatalf("%d failed accepts; want %d", len(times), len(errs))
	}
	// Pauses of 5, 10, 20, 40, 80 ms between the six failures.
	for i := 1; i < len(times); i++ {
		want := minBackoff << (i - 1)
		if got := times[i].Sub(times[i-1]); got < want {
			t.Errorf("pause before accept %d: %v; want at least %v", i+1, got, want)
		}
	}
	if got := log.String(); strings.Count(got, msgFailed) != 1 || !strings.Contains(got, "too many open files") {
		t.Errorf("log: want one line naming EMFILE:\n%s", got)
	}
}

// TestStopDuringBackoff: a context that ends while the loop pauses after
// an error ends Serve at once, not after the pause.
func TestStopDuringBackoff(t *testing.T) {
	errs := make([]error, 20) // 5ms doubling, capped at 1 s: over 10 s of pauses
	for i := range errs {
		errs[i] = syscall.ENFILE
	}
	ln := &flakyListener{Listener: listen(t), errs: errs}
	stop := serve(t, ln, Options{Max: 1, Log: slog.New(slog.DiscardHandler)}, echo)
	time.Sleep(300 * time.Millisecond)
	start := time.Now()
	stop()
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("Serve took %v to return after its context ended", took)
	}
}

// TestServeWaitsForHandlers: Serve returns only once every handler has,
// and a handler that watches ctx ends with it.
func TestServeWaitsForHandlers(t *testing.T) {
	ln := listen(t)
	ctx, cancel := context.WithCancel(context.Background())
	ended := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		Serve(ctx, ln, Options{Max: 1}, func(c net.Conn) {
			<-ctx.Done()
			time.Sleep(100 * time.Millisecond)
			close(ended)
		})
	}()
	c := dial(t, ln)
	c.Write([]byte("x"))
	time.Sleep(50 * time.Millisecond) // accepted
	cancel()
	<-done
	select {
	case <-ended:
	default:
		t.Fatal("Serve returned before its handler")
	}
	if _, err := net.Dial("unix", ln.Addr().String()); err == nil {
		t.Error("listener still accepts after Serve returned")
	}
}
