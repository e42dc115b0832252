package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/clitest"
	"gotap.dev/libvhd/vhdtest"
)

// TestParallelCreateDestroy: twenty creates at once get twenty minors,
// each serving; twenty destroys at once leave nothing behind.
func TestParallelCreateDestroy(t *testing.T) {
	vhdtest.RequireTool(t, "nbdinfo")
	e := clitest.New(t)
	const n = 20
	dir := t.TempDir()
	uris := make([]string, n)
	parallel(n, func(i int) {
		img := filepath.Join(dir, fmt.Sprintf("d%d.img", i))
		if err := os.WriteFile(img, make([]byte, 1<<20), 0o644); err != nil {
			t.Error(err)
			return
		}
		uris[i] = strings.TrimSpace(mustAsync(t, e, "tap-ctl", "create", "-a", "aio:"+img))
	})
	if t.Failed() {
		t.FailNow()
	}
	minors := listMinors(t, e)
	if want := seq(n); !slices.Equal(minors, want) {
		t.Fatalf("minors after %d parallel creates = %v; want %v", n, minors, want)
	}
	parallel(n, func(i int) {
		if out, err := exec.Command("nbdinfo", "--size", uris[i]).CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "1048576" {
			t.Errorf("nbdinfo --size %s: %v, %s; want 1048576", uris[i], err, out)
		}
	})
	parallel(n, func(i int) { mustAsync(t, e, "tap-ctl", "destroy", "-m", fmt.Sprint(minors[i])) })
	if left := e.Left(t); len(left) != 0 {
		t.Errorf("left in the run directory: %v", left)
	}
	if pids := e.Running(t); len(pids) != 0 {
		t.Errorf("tapdisks still running: %v", pids)
	}
}

// TestKilledTapdisk: a tapdisk killed with SIGKILL is listed dead, tap-ctl
// says so when asked to talk to it, and destroy removes what it left.
func TestKilledTapdisk(t *testing.T) {
	e := clitest.New(t)
	img := filepath.Join(t.TempDir(), "a.img")
	os.WriteFile(img, make([]byte, 1<<20), 0o644)
	e.Must(t, "tap-ctl", "create", "-a", "aio:"+img)
	e.Must(t, "tap-ctl", "allocate")
	var pid int
	fmt.Sscanf(e.Must(t, "tap-ctl", "list", "-m", "0"), "pid=%d", &pid)
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); len(e.Running(t)) > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	want := fmt.Sprintf("pid=%d minor=0 state=0x1\nminor=1\n", pid)
	if got := e.Must(t, "tap-ctl", "list"); got != want {
		t.Errorf("list after SIGKILL = %q; want %q", got, want)
	}
	_, stderr, code := e.Run(t, "tap-ctl", "pause", "-m", "0")
	if code != int(syscall.ECONNREFUSED) || !strings.HasPrefix(stderr, "tap-ctl: pause: Connection refused") || !strings.Contains(stderr, "is dead") {
		t.Errorf("pause of a dead tapdisk's minor: exit %d, %q; want %d, a message saying it is dead", code, stderr, syscall.ECONNREFUSED)
	}
	e.Must(t, "tap-ctl", "destroy", "-m", "0")
	e.Must(t, "tap-ctl", "free", "-m", "1")
	if left := e.Left(t); len(left) != 0 {
		t.Errorf("left in the run directory after destroy: %v", left)
	}
}

// TestFailures: exit status is the errno, and a create that fails rolls
// every step back.
func TestFailures(t *testing.T) {
	e := clitest.New(t)
	tests := []struct {
		args   []string
		errno  syscall.Errno
		prefix string
	}{
		{[]string{"create", "-a", "vhd:/nonexistent.vhd"}, syscall.ENOENT, "tap-ctl: create: No such file or directory"},
		{[]string{"create", "-a", "aio:/dev/null", "-2", "aio:/x"}, syscall.EOPNOTSUPP, "tap-ctl: create: Operation not supported (-2: "},
		{[]string{"open", "-m", "3", "-a", "aio:/x", "-s"}, syscall.EOPNOTSUPP, "tap-ctl: open: Operation not supported (-s: "},
		{[]string{"open", "-m", "3", "-a", "aio:/x", "-e", "2"}, syscall.EOPNOTSUPP, "tap-ctl: open: Operation not supported (-e: "},
		{[]string{"open", "-m", "3", "-a", "aio:/x", "-r"}, syscall.EOPNOTSUPP, "tap-ctl: open: Operation not supported (-r: "},
		{[]string{"open", "-m", "3", "-a", "aio:/x", "-C", "/x.log"}, syscall.EOPNOTSUPP, "tap-ctl: open: Operation not supported (-C: "},
		{[]string{"open", "-m", "3", "-a", "aio:/x", "-E"}, syscall.EOPNOTSUPP, "tap-ctl: open: Operation not supported (-E: "},
		{[]string{"unpause", "-m", "3", "-c", "/x.log"}, syscall.EOPNOTSUPP, "tap-ctl: unpause: Operation not supported (-c: "},
		{[]string{"close", "-m", "3", "--timeout=-1"}, syscall.EINVAL, "tap-ctl: close: Invalid argument (-t -1: "},
		{[]string{"stats", "-m", "3"}, syscall.ENOENT, "tap-ctl: stats: No such file or directory"},
		{[]string{"free", "-m", "3"}, syscall.ENOENT, "tap-ctl: free: No such file or directory"},
		{[]string{"attach", "-p", "1", "-m", "0"}, syscall.ENOENT, "tap-ctl: attach: No such file or directory (no tapdisk with pid 1"},
		{[]string{"pause"}, syscall.EINVAL, "tap-ctl: missing flags: --minor=MINOR"},
	}
	for _, tt := range tests {
		_, stderr, code := e.Run(t, "tap-ctl", tt.args...)
		if code != int(tt.errno) || !strings.HasPrefix(stderr, tt.prefix) {
			t.Errorf("tap-ctl %v: exit %d, %q; want %d, %q…", tt.args, code, stderr, tt.errno, tt.prefix)
		}
	}
	if left := e.Left(t); len(left) != 0 {
		t.Errorf("left in the run directory: %v", left)
	}
}

func listMinors(t *testing.T, e *clitest.Env) []int {
	var minors []int
	for _, line := range strings.Split(strings.TrimSpace(e.Must(t, "tap-ctl", "list")), "\n") {
		var pid, minor int
		if _, err := fmt.Sscanf(line, "pid=%d minor=%d", &pid, &minor); err != nil {
			t.Fatalf("list line %q: %v", line, err)
		}
		minors = append(minors, minor)
	}
	slices.Sort(minors)
	return minors
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// mustAsync is Env.Must for goroutines other than the test's: it
// reports a failure with Errorf.
func mustAsync(t *testing.T, e *clitest.Env, name string, args ...string) string {
	out, stderr, code := e.Run(t, name, args...)
	if code != 0 {
		t.Errorf("%s %v: exit %d: %s", name, args, code, stderr)
	}
	return out
}

// parallel runs fn(0) … fn(n-1) at once and waits for them.
func parallel(n int, fn func(i int)) {
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { fn(i) })
	}
	wg.Wait()
}

// TestAllocatePrintsMarker: allocate prints the minor's marker path, which
// blktap's users parse for the minor (tapdisk-(\d+)$).
func TestAllocatePrintsMarker(t *testing.T) {
	e := clitest.New(t)
	out := e.Must(t, "tap-ctl", "allocate")
	want := string(e.RunDir) + "/tapdisk/tapdisk-0\n"
	if out != want {
		t.Errorf("allocate printed %q; want %q", out, want)
	}
	if out := e.Must(t, "tap-ctl", "allocate", "-m", "7"); !strings.HasSuffix(out, "/tapdisk/tapdisk-7\n") {
		t.Errorf("allocate -m 7 printed %q", out)
	}
	e.Must(t, "tap-ctl", "free", "-m", "0")
	e.Must(t, "tap-ctl", "free", "-m", "7")
}
