package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/rundir"
)

// TestListUnansweredTapdisk: a live tapdisk that never answers (here,
// this process listening on a control socket, holding minor 2) is listed
// with what its markers say, and list says so on stderr and exits with
// ETIMEDOUT instead of 0; the other rows are still printed.
func TestListUnansweredTapdisk(t *testing.T) {
	dir := rundir.Dir(t.TempDir())
	if err := dir.Create(); err != nil {
		t.Fatal(err)
	}
	pid := os.Getpid()
	ln, err := net.Listen("unix", dir.Ctl(pid))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepted, never answered
		}
	}()
	hold, err := dir.Hold(2)
	if err != nil {
		t.Fatal(err)
	}
	defer hold.Release()
	if _, err := dir.Allocate(4); err != nil {
		t.Fatal(err)
	}

	var stdout, stderr bytes.Buffer
	start := time.Now()
	code := run(context.Background(), []string{"--run-dir", string(dir), "list"}, &stdout, &stderr)
	if took := time.Since(start); took > 15*time.Second {
		t.Errorf("list took %v", took)
	}
	if code != int(syscall.ETIMEDOUT) {
		t.Errorf("exit status = %d; want %d (ETIMEDOUT)", code, syscall.ETIMEDOUT)
	}
	if want := fmt.Sprintf("pid=%d minor=2\nminor=4\n", pid); stdout.String() != want {
		t.Errorf("stdout = %q; want %q", stdout.String(), want)
	}
	if msg := fmt.Sprintf("tapdisk %d did not answer", pid); !strings.Contains(stderr.String(), msg) || !strings.HasPrefix(stderr.String(), "tap-ctl: list: ") {
		t.Errorf("stderr = %q; want it to say %q", stderr.String(), msg)
	}
}
