package main

import (
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"gotap.dev/libtap/clitest"
	"gotap.dev/libvhd/vhdtest"
)

// TestOneCommandMinors: tapdisks started with images on their command
// line take the lowest free minors, as tap-ctl allocate does: never a
// reserved one, nor one a killed tapdisk left; destroy and free of a
// killed one's minors clean up after it alone, and every live disk
// keeps serving its own data.
func TestOneCommandMinors(t *testing.T) {
	qemuIO := vhdtest.RequireTool(t, "qemu-io")
	e := clitest.New(t)
	e.Must(t, "tap-ctl", "allocate", "-m", "5") // reserved: never taken
	live := make(map[int]*clitest.Tapdisk)      // by minor
	serve := func(want int) {
		t.Helper()
		img := filepath.Join(t.TempDir(), "disk.vhd")
		e.Must(t, "vhd-util", "create", "-n", img, "-s", "8")
		td := e.StartTapdisk(t, "vhd:"+img)
		if got := uriMinor(t, td.URIs[0]); got != want {
			t.Fatalf("tapdisk %v serves minor %d; want %d", td.URIs, got, want)
		}
		vhdtest.Run(t, qemuIO, "-f", "raw", "-c", fmt.Sprintf("write -P %d 0 64k", pattern(want)), td.URIs[0])
		live[want] = td
	}
	for m := range 5 {
		serve(m)
	}
	if got, want := runningMinors(t, e), []int{0, 1, 2, 3, 4}; !slices.Equal(got, want) {
		t.Fatalf("tap-ctl list shows minors %v running; want %v", got, want)
	}

	// Kill two: minors 1 and 3 are left by dead tapdisks, 5 reserved.
	dead := map[int]int{} // minor: pid
	for _, m := range []int{1, 3} {
		dead[m] = live[m].Cmd.Process.Pid
		live[m].Kill(t)
		delete(live, m)
	}
	serve(6)
	serve(7)
	list := e.Must(t, "tap-ctl", "list")
	for m, pid := range dead {
		if want := fmt.Sprintf("pid=%d minor=%d state=0x1\n", pid, m); !strings.Contains(list, want) {
			t.Errorf("tap-ctl list does not show the killed tapdisk's %q:\n%s", want, list)
		}
	}
	e.Must(t, "tap-ctl", "destroy", "-m", "1")
	e.Must(t, "tap-ctl", "free", "-m", "3")
	left := e.Left(t)
	for m, pid := range dead {
		if traces := tracesOf(left, pid); len(traces) > 0 || slices.Contains(left, e.RunDir.Marker(m)) {
			t.Errorf("left of tapdisk %d (minor %d) after destroy or free: %v", pid, m, left)
		}
	}
	for m, td := range live {
		vhdtest.Run(t, qemuIO, "-f", "raw", "-c", fmt.Sprintf("read -P %d 0 64k", pattern(m)), td.URIs[0])
	}
	serve(1)
	serve(3)

	for m, td := range live {
		if code := td.Stop(t); code != 0 {
			t.Errorf("tapdisk of minor %d: exit status %d after SIGTERM; want 0", m, code)
		}
	}
	if got := e.Must(t, "tap-ctl", "list"); got != "minor=5\n" {
		t.Errorf("tap-ctl list after every tapdisk exited = %q; want the reserved minor only", got)
	}
	e.Must(t, "tap-ctl", "free", "-m", "5")
	if left := e.Left(t); len(left) != 0 {
		t.Errorf("left in the run directory: %v", left)
	}
}

// TestKilledTwoMinors: the minors a killed tapdisk held stay its own,
// open or not: listed dead, refused to another tapdisk until destroyed,
// each destroy removing that minor's traces and the last one its
// control socket.
func TestKilledTwoMinors(t *testing.T) {
	e := clitest.New(t)
	td := e.StartTapdisk(t, "ram:1M", "ram:1M")
	pid := td.Cmd.Process.Pid
	e.Must(t, "tap-ctl", "close", "-m", "1") // attached, no NBD socket
	td.Kill(t)
	other := e.StartTapdisk(t)
	otherPid := strconv.Itoa(other.Cmd.Process.Pid)

	want := fmt.Sprintf("pid=%d minor=0 state=0x1\npid=%d minor=1 state=0x1\npid=%s\n", pid, pid, otherPid)
	if got := e.Must(t, "tap-ctl", "list"); got != want {
		t.Errorf("tap-ctl list = %q; want %q", got, want)
	}
	_, stderr, code := e.Run(t, "tap-ctl", "attach", "-p", otherPid, "-m", "1")
	if code != int(syscall.EBUSY) || !strings.Contains(stderr, fmt.Sprintf("tapdisk %d died holding it", pid)) {
		t.Errorf("attach of a killed tapdisk's minor: exit %d, %q; want %d, naming the dead tapdisk", code, stderr, syscall.EBUSY)
	}
	ctl := e.RunDir.Ctl(pid)
	e.Must(t, "tap-ctl", "destroy", "-m", "0")
	if !slices.Contains(e.Left(t), ctl) {
		t.Errorf("destroy -m 0 removed %s while minor 1 is still the dead tapdisk's", ctl)
	}
	e.Must(t, "tap-ctl", "destroy", "-m", "1")
	if traces := tracesOf(e.Left(t), pid); len(traces) > 0 {
		t.Errorf("left of the killed tapdisk after destroying its minors: %v", traces)
	}

	// Minor 1 is free again; a spawned tapdisk exits with its last minor.
	e.Must(t, "tap-ctl", "attach", "-p", otherPid, "-m", "1")
	e.Must(t, "tap-ctl", "destroy", "-m", "1")
	if left := e.Left(t); len(left) != 0 {
		t.Errorf("left in the run directory: %v", left)
	}
}

// tracesOf are the sockets of left named after the tapdisk with pid.
func tracesOf(left []string, pid int) []string {
	var traces []string
	for _, p := range left {
		name := filepath.Base(p)
		if name == "ctl"+strconv.Itoa(pid) || strings.HasPrefix(name, "nbd"+strconv.Itoa(pid)+".") {
			traces = append(traces, p)
		}
	}
	return traces
}

// runningMinors are the minors tap-ctl list shows running, in order.
func runningMinors(t *testing.T, e *clitest.Env) []int {
	var minors []int
	for _, line := range strings.Split(e.Must(t, "tap-ctl", "list"), "\n") {
		var pid, minor int
		if _, err := fmt.Sscanf(line, "pid=%d minor=%d state=0", &pid, &minor); err == nil {
			minors = append(minors, minor)
		}
	}
	slices.Sort(minors)
	return minors
}

// pattern is the byte written to the disk of minor m.
func pattern(m int) int { return 0x10 + m }

// uriMinor is the minor of a URI naming the socket nbd<pid>.<minor>.
func uriMinor(t *testing.T, uri string) int {
	t.Helper()
	_, n, _ := strings.Cut(filepath.Base(uri), ".")
	m, err := strconv.Atoi(n)
	if err != nil {
		t.Fatalf("URI %q names no minor", uri)
	}
	return m
}
