package rundir

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"testing"
)

// deadPid is the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

// leaveDead makes what a tapdisk with pid leaves when it is killed
// holding minors: their markers naming it, its control socket and the
// NBD sockets of the minors in nbd, with nobody listening on them.
func leaveDead(t *testing.T, d Dir, pid int, minors, nbd []int) {
	t.Helper()
	for _, m := range minors {
		if _, err := d.Allocate(m); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(d.Marker(m), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	staleSocket(t, d.Ctl(pid))
	for _, m := range nbd {
		staleSocket(t, d.NBD(pid, m))
	}
}

// staleSocket leaves a Unix socket at path that nobody listens on.
func staleSocket(t *testing.T, path string) {
	t.Helper()
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// HoldNew takes the lowest minor that is neither reserved, held, nor
// left by a dead tapdisk, names us in its marker, and frees it again on
// Release.
func TestHoldNew(t *testing.T) {
	d := Dir(t.TempDir())
	if _, err := d.Allocate(1); err != nil {
		t.Fatal(err)
	}
	leaveDead(t, d, deadPid(t), []int{2}, nil)
	held, err := d.Hold(4)
	if err != nil {
		t.Fatal(err)
	}
	var got []int
	var holds []*Hold
	for range 3 {
		h, err := d.HoldNew()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, h.Minor())
		holds = append(holds, h)
		if m, err := d.Holder(h.Minor()); err != nil || m != (Minor{h.Minor(), true, os.Getpid()}) {
			t.Errorf("Holder(%d) = %+v, %v; want held by us", h.Minor(), m, err)
		}
	}
	if want := []int{0, 3, 5}; !slices.Equal(got, want) {
		t.Errorf("HoldNew gave minors %v; want %v", got, want)
	}
	for _, h := range append(holds, held) {
		if err := h.Release(); err != nil {
			t.Fatal(err)
		}
	}
	minors, err := d.Minors()
	if err != nil || len(minors) != 2 || minors[0].N != 1 || minors[1].N != 2 {
		t.Errorf("Minors() after Release = %+v, %v; want the reserved 1 and the dead one's 2 only", minors, err)
	}
}

// HoldNew and Allocate racing never hand out a minor twice.
func TestHoldNewConcurrentWithAllocate(t *testing.T) {
	d := Dir(t.TempDir())
	const n = 40
	got := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			var err error
			if i%2 == 0 {
				got[i], err = d.Allocate(-1)
			} else {
				var h *Hold
				if h, err = d.HoldNew(); err == nil {
					got[i] = h.Minor()
				}
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	slices.Sort(got)
	if !slices.Equal(got, seq(n)) {
		t.Errorf("minors handed out = %v; want 0 to %d once each", got, n-1)
	}
}

func seq(n int) []int {
	s := make([]int, n)
	for i := range s {
		s[i] = i
	}
	return s
}

// A dead tapdisk's minors cannot be held again until freed; Free removes
// each minor's NBD socket and, with the last trace of the tapdisk, its
// control socket, never touching a live holder's minor.
func TestFreeDeadHolder(t *testing.T) {
	d := Dir(t.TempDir())
	dead := deadPid(t)
	// Minor 0 was serving, minor 1 attached but closed (no NBD socket).
	leaveDead(t, d, dead, []int{0, 1}, []int{0})
	live, err := d.Hold(2)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Release()

	if _, err := d.Hold(0); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("Hold of a dead tapdisk's minor: err = %v; want EBUSY", err)
	}
	want := []Minor{{0, false, dead}, {1, false, dead}, {2, true, os.Getpid()}}
	if got, err := d.Minors(); err != nil || !slices.Equal(got, want) {
		t.Errorf("Minors() = %v, %v; want %v", got, err, want)
	}
	steps := []struct {
		minor         int
		err           error
		nbd0, ctl, m1 bool // still there afterwards
	}{
		{0, nil, false, true, true}, // minor 1 still names it: the control socket stays
		{2, syscall.EBUSY, false, true, true},
		{1, nil, false, false, false},
		{1, syscall.ENOENT, false, false, false},
	}
	for _, s := range steps {
		if err := d.Free(s.minor); !errors.Is(err, s.err) {
			t.Errorf("Free(%d) = %v; want %v", s.minor, err, s.err)
		}
		if got := exists(d.NBD(dead, 0)); got != s.nbd0 {
			t.Errorf("after Free(%d): NBD socket of minor 0 there = %v; want %v", s.minor, got, s.nbd0)
		}
		if got := exists(d.Ctl(dead)); got != s.ctl {
			t.Errorf("after Free(%d): control socket there = %v; want %v", s.minor, got, s.ctl)
		}
		if got := exists(d.Marker(1)); got != s.m1 {
			t.Errorf("after Free(%d): marker of minor 1 there = %v; want %v", s.minor, got, s.m1)
		}
	}
	if m, err := d.Holder(2); err != nil || !m.Held {
		t.Errorf("Holder(2) = %+v, %v; the live holder's minor must stay held", m, err)
	}
}

// A control socket someone listens on is not the dead tapdisk's any
// more (a new one was given its pid): Free leaves it.
func TestFreeKeepsLiveCtl(t *testing.T) {
	d := Dir(t.TempDir())
	pid := deadPid(t)
	leaveDead(t, d, pid, []int{0}, []int{0})
	os.Remove(d.Ctl(pid))
	ln, err := net.Listen("unix", d.Ctl(pid))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	if err := d.Free(0); err != nil {
		t.Fatal(err)
	}
	if !exists(d.Ctl(pid)) {
		t.Error("Free removed a control socket that takes connections")
	}
	if exists(d.NBD(pid, 0)) || exists(d.Marker(0)) {
		t.Error("Free left the dead tapdisk's NBD socket or marker")
	}
}
