package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/rundir"
)

// testDaemon is a daemon with a run directory of its own and the given
// open timeout, not started (its Handler methods are called directly).
func testDaemon(t *testing.T, openWait time.Duration) *daemon {
	t.Helper()
	d := &daemon{
		dir: rundir.Dir(t.TempDir()), pid: os.Getpid(), log: slog.New(slog.DiscardHandler),
		ringSlots: 16, depth: 4, openWait: openWait,
		minors: make(map[int]*minor), empty: make(chan struct{}),
	}
	t.Cleanup(func() { d.closeAll() })
	return d
}

// quickly fails the test if fn takes longer than a control request that
// waits on nothing should.
func quickly(t *testing.T, what string, fn func() error) error {
	t.Helper()
	start := time.Now()
	err := fn()
	if took := time.Since(start); took > 500*time.Millisecond {
		t.Errorf("%s took %v while another minor was busy", what, took)
	}
	return err
}

// silentServer is an image whose open hangs, as one on a server that
// stopped answering: an NBD server that accepts and never speaks (the
// nbd driver waits 10 s for its handshake).
func silentServer(t *testing.T) string {
	t.Helper()
	sock := filepath.Join(t.TempDir(), "silent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	accepted := make(chan []net.Conn, 1)
	go func() {
		var conns []net.Conn // kept, so the collector does not close them
		for {
			c, err := ln.Accept()
			if err != nil {
				accepted <- conns
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		for _, c := range <-accepted {
			c.Close()
		}
	})
	return "nbd:unix:" + sock
}

// TestHungOpenBlocksNothingElse: an image whose open hangs fails with
// ETIMEDOUT after the open timeout; meanwhile list, stats, pause and
// resume of another minor answer at once.
func TestHungOpenBlocksNothingElse(t *testing.T) {
	const openWait = 300 * time.Millisecond
	d := testDaemon(t, openWait)
	ctx := context.Background()
	if _, err := d.Open(ctx, control.OpenRequest{Minor: 0, Image: "ram:1M"}); err != nil {
		t.Fatal(err)
	}
	hung := silentServer(t)
	opened := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := d.Open(ctx, control.OpenRequest{Minor: 1, Image: hung})
		opened <- err
	}()
	time.Sleep(50 * time.Millisecond) // the open is under way
	quickly(t, "list", func() error {
		infos, err := d.List(ctx)
		if err != nil || len(infos) != 2 {
			t.Errorf("List during a hung open = %+v, %v; want minors 0 and 1", infos, err)
		}
		return err
	})
	quickly(t, "stats", func() error {
		info, err := d.Stats(ctx, 0)
		if err != nil || info.Image != "ram:1M" {
			t.Errorf("Stats(0) during a hung open = %+v, %v", info, err)
		}
		return err
	})
	quickly(t, "pause", func() error { return d.Pause(ctx, 0) })
	quickly(t, "resume", func() error { return d.Resume(ctx, 0, "") })

	err := <-opened
	if !errors.Is(err, syscall.ETIMEDOUT) {
		t.Fatalf("open of an image that hangs = %v; want ETIMEDOUT", err)
	}
	if took := time.Since(start); took > openWait+time.Second {
		t.Errorf("the hung open failed after %v; want about %v", took, openWait)
	}
	if infos, _ := d.List(ctx); len(infos) != 1 {
		t.Errorf("after the failed open, List = %+v; want minor 0 only", infos)
	}
}

// TestBusyMinor: list and stats never wait on a minor's lifecycle lock;
// a second operation waits at most lockWait, then fails with EBUSY
// naming the one in the way; detach of a busy minor is refused at once.
func TestBusyMinor(t *testing.T) {
	d := testDaemon(t, 100*time.Millisecond) // lockWait: 5.1 s
	ctx := context.Background()
	if _, err := d.Open(ctx, control.OpenRequest{Minor: 3, Image: "ram:1M"}); err != nil {
		t.Fatal(err)
	}
	m, _ := d.get(3)
	m.lockWait = 200 * time.Millisecond
	if err := m.lock(ctx, "pause"); err != nil { // a pause that drains slowly
		t.Fatal(err)
	}
	quickly(t, "list", func() error { _, err := d.List(ctx); return err })
	quickly(t, "stats", func() error { _, err := d.Stats(ctx, 3); return err })
	err := d.Close(ctx, 3)
	var cerr *control.Error
	if !errors.Is(err, syscall.EBUSY) || !errors.As(err, &cerr) || cerr.Msg != "close minor 3: busy (pause, for 0s)" {
		t.Errorf("Close of a busy minor = %v; want EBUSY naming the pause", err)
	}
	if err := quickly(t, "detach", func() error { return d.Detach(ctx, 3) }); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("Detach of a busy minor = %v; want EBUSY", err)
	}
	m.unlock()
	if err := d.Close(ctx, 3); err != nil {
		t.Errorf("Close once free: %v", err)
	}
}

// TestStartWithAnImageThatHangs: tapdisk started on an image whose open
// hangs exits 1 after --open-timeout, saying why, rather than hang.
func TestStartWithAnImageThatHangs(t *testing.T) {
	dir := t.TempDir()
	cmd := exec.Command(binary, "--run-dir", dir, "--open-timeout", "300ms", silentServer(t))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatalf("tapdisk still opening 10 s later:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != exitFail || !strings.Contains(stderr.String(), "no answer in 300ms") {
		t.Errorf("exit status %d after %v; want %d, saying no answer in 300ms:\n%s", code, time.Since(start), exitFail, stderr.String())
	}
	if left, _ := filepath.Glob(filepath.Join(dir, "*", "*")); len(left) != 0 {
		t.Errorf("left in the run directory: %v", left)
	}
}
