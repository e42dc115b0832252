package main

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/control/wire"
	"gotap.dev/libvhd/vhdtest"
)

// TestEndToEnd runs tapmon in tmux over two real tapdisks under fio
// load, and works it with keys as a user would.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts tapdisks, fio and tmux")
	}
	vhdtest.RequireTool(t, "tmux")
	vhdtest.RequireTool(t, "fio")
	bin := t.TempDir()
	build(t, filepath.Join(bin, "tapdisk"), "../tapdisk")
	build(t, filepath.Join(bin, "tapmon"), ".")
	dir := t.TempDir()
	run := filepath.Join(dir, "run")

	// Each tapdisk of one run directory needs minors of its own: the
	// second opens minor 1 over its control socket.
	pidA, ctlA, uriA := startTapdisk(t, filepath.Join(bin, "tapdisk"), run, "aio:"+image(t, dir, "a.img"))
	pidB, ctlB, _ := startTapdisk(t, filepath.Join(bin, "tapdisk"), run)
	b := dial(t, ctlB)
	openB, err := b.Open(context.Background(), control.OpenRequest{Minor: 1, Image: "aio:" + image(t, dir, "b.img")})
	if err != nil {
		t.Fatal(err)
	}
	load(t, uriA)
	load(t, openB.URI)

	scr := startTmux(t, filepath.Join(bin, "tapmon"), run, filepath.Join(dir, "status"))
	scr.waitRow(t, "both disks busy", pidA, 0, func(f []string) bool { return f[2] == "running" && f[3] != "0" })
	scr.waitRow(t, "both disks busy", pidB, 1, func(f []string) bool { return f[2] == "running" && f[3] != "0" })

	a := dial(t, ctlA)
	scr.keys(t, "p")
	scr.wait(t, "the pause prompt", func(s string) bool { return strings.Contains(s, "Pause minor 0 of tapdisk "+strconv.Itoa(pidA)) })
	scr.keys(t, "y")
	scr.waitRow(t, "minor 0 paused", pidA, 0, func(f []string) bool { return f[2] == "paused" })
	if st := vbdState(t, a); st&wire.Paused == 0 {
		t.Errorf("after p, y: List says state %v; want paused", st)
	}
	scr.keys(t, "u")
	scr.wait(t, "the resume prompt", func(s string) bool { return strings.Contains(s, "Resume minor 0") })
	scr.keys(t, "y")
	scr.waitRow(t, "minor 0 running again", pidA, 0, func(f []string) bool { return f[2] == "running" })
	if st := vbdState(t, a); st&wire.Paused != 0 {
		t.Errorf("after u, y: List says state %v; want running", st)
	}

	killed := time.Now()
	syscall.Kill(pidB, syscall.SIGKILL)
	scr.waitRow(t, "the killed tapdisk's row dead", pidB, 1, func(f []string) bool { return f[2] == "dead" || f[2] == "gone" })
	if d := time.Since(killed); d > 2*time.Second {
		t.Errorf("killed tapdisk shown dead after %v; want within 2s", d)
	}
	scr.waitRow(t, "tapmon still running", pidA, 0, func(f []string) bool { return f[3] != "0" })

	scr.keys(t, "q")
	scr.wait(t, "the shell back", func(s string) bool { return strings.Contains(s, "tapmon exited") && !strings.Contains(s, "MINOR") })
	if st, _ := os.ReadFile(filepath.Join(dir, "status")); strings.TrimSpace(string(st)) != "0" {
		t.Errorf("tapmon exit status %q; want 0", st)
	}
}

func build(t *testing.T, out, pkg string) {
	t.Helper()
	if b, err := exec.Command("go", "build", "-o", out, pkg).CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
}

func image(t *testing.T, dir, name string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, 64<<20); err != nil {
		t.Fatal(err)
	}
	return path
}

// startTapdisk runs tapdisk and returns its pid, control socket and the
// URI of its first image (if given).
func startTapdisk(t *testing.T, exe, run string, images ...string) (pid int, ctl, uri string) {
	t.Helper()
	cmd := exec.Command(exe, append([]string{"--run-dir", run}, images...)...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	lines := bufio.NewScanner(out)
	for range 1 + len(images) {
		if !lines.Scan() {
			t.Fatalf("tapdisk %v printed no more lines", images)
		}
		if ctl == "" {
			ctl = lines.Text()
		} else {
			uri = lines.Text()
		}
	}
	return cmd.Process.Pid, ctl, uri
}

func dial(t *testing.T, ctl string) *control.Client {
	t.Helper()
	c, err := control.Dial(ctl)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Disconnect() })
	return c
}

// load runs fio on a disk until the test ends.
func load(t *testing.T, uri string) {
	t.Helper()
	cmd := exec.Command("fio", "--name=load", "--ioengine=nbd", "--uri="+uri, "--rw=randrw", "--bs=4k",
		"--iodepth=8", "--time_based", "--runtime=120", "--output=/dev/null")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}

func vbdState(t *testing.T, c *control.Client) wire.State {
	t.Helper()
	infos, err := c.List(context.Background())
	if err != nil || len(infos) == 0 {
		t.Fatalf("List() = %v, %v", infos, err)
	}
	return infos[0].State
}

// screen is a tmux session of its own server (-L), so the test touches
// no one's sessions.
type screen struct{ server string }

// startTmux runs tapmon in a 120×30 pane through a shell that writes its
// exit status to status and then stays, so the pane shows the shell's
// screen once tapmon has left its own.
func startTmux(t *testing.T, tapmon, run, status string) screen {
	t.Helper()
	s := screen{server: "tapmon-test-" + strconv.Itoa(os.Getpid())}
	shell := tapmon + " --run-dir " + run + "; echo $? > " + status + "; echo tapmon exited; sleep 600"
	s.tmux(t, "new-session", "-d", "-x", "120", "-y", "30", "sh", "-c", shell)
	t.Cleanup(func() { exec.Command("tmux", "-L", s.server, "kill-server").Run() })
	return s
}

func (s screen) tmux(t *testing.T, args ...string) string {
	t.Helper()
	return vhdtest.Run(t, "tmux", append([]string{"-L", s.server}, args...)...)
}

func (s screen) keys(t *testing.T, keys ...string) {
	t.Helper()
	s.tmux(t, append([]string{"send-keys"}, keys...)...)
}

// wait polls the screen until ok holds; it fails after 10 s, showing it.
func (s screen) wait(t *testing.T, what string, ok func(string) bool) {
	t.Helper()
	var text string
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if text = s.tmux(t, "capture-pane", "-p"); ok(text) {
			return
		}
	}
	t.Fatalf("waiting for %s; the screen:\n%s", what, text)
}

// waitRow waits until the row of pid's minor satisfies ok; ok gets the
// row's fields from MINOR on (MINOR PID STATE R-IOPS …).
func (s screen) waitRow(t *testing.T, what string, pid, minor int, ok func([]string) bool) {
	t.Helper()
	s.wait(t, what, func(text string) bool {
		for _, l := range strings.Split(text, "\n") {
			f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(l), "> "))
			if len(f) > 4 && f[0] == strconv.Itoa(minor) && f[1] == strconv.Itoa(pid) {
				return ok(f)
			}
		}
		return false
	})
}
