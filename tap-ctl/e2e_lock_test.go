package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/clitest"
	"gotap.dev/libvhd/vhdtest"
)

// TestServedImageIsLocked: a served leaf has one writer. A second
// tap-ctl create, QEMU (qemu-img info without -U, qemu-nbd) and
// vhd-util's writers are refused while fio verifies the first disk;
// vhd-util's readers work; blktap's pause, snapshot, unpause recipe
// works; and tapdisk refuses an image qemu-nbd serves.
func TestServedImageIsLocked(t *testing.T) {
	qemuImg := vhdtest.RequireTool(t, "qemu-img")
	qemuNBD := vhdtest.RequireTool(t, "qemu-nbd")
	e := clitest.New(t)
	dir := t.TempDir()
	leaf := filepath.Join(dir, "leaf.vhd")
	e.Must(t, "vhd-util", "create", "-n", leaf, "-s", "64")
	uri := strings.TrimSpace(e.Must(t, "tap-ctl", "create", "-a", "vhd:"+leaf))
	fio := vhdtest.StartFio(t, uri, "--size=32m", "--runtime=8s", "--iodepth=4")

	refused := func(what string, code int, stderr string) {
		t.Helper()
		if code == 0 {
			t.Errorf("%s on a served leaf succeeded", what)
		} else if !strings.Contains(stderr, "in use") && !strings.Contains(stderr, "lock") {
			t.Errorf("%s: exit %d without naming the lock: %s", what, code, stderr)
		}
	}
	_, stderr, code := e.Run(t, "tap-ctl", "create", "-a", "vhd:"+leaf)
	if code != int(syscall.EBUSY) || !strings.Contains(stderr, leaf) {
		t.Errorf("second tap-ctl create: exit %d (want EBUSY, %d), stderr %q (want the image named)", code, syscall.EBUSY, stderr)
	}
	for _, args := range [][]string{
		{"set", "-n", leaf, "-f", "hidden", "-v", "1"},
		{"modify", "-n", leaf, "-z"},
		{"snapshot", "-n", filepath.Join(dir, "early.vhd"), "-p", leaf},
	} {
		_, stderr, code := e.Run(t, "vhd-util", args...)
		refused("vhd-util "+args[0], code, stderr)
	}
	if _, err := os.Stat(filepath.Join(dir, "early.vhd")); err == nil {
		t.Error("a refused snapshot left its child behind")
	}
	for _, args := range [][]string{
		{"query", "-n", leaf, "-v"},
		{"scan", leaf},
		{"check", "-n", leaf},
	} {
		e.Must(t, "vhd-util", args...)
	}
	out, err := exec.Command(qemuImg, "info", "-f", "vpc", leaf).CombinedOutput()
	refused("qemu-img info", exitCode(err), string(out))
	if out, err := exec.Command(qemuImg, "info", "-U", "-f", "vpc", leaf).CombinedOutput(); err != nil {
		t.Errorf("qemu-img info -U: %v\n%s", err, out)
	}
	out, err = runFor(5*time.Second, qemuNBD, "-f", "vpc", "-k", filepath.Join(dir, "q.sock"), leaf)
	refused("qemu-nbd", exitCode(err), string(out))
	fio.Wait(t)

	// blktap's recipe: pause closes the chain, so vhd-util may write.
	snap := filepath.Join(dir, "snap.vhd")
	e.Must(t, "tap-ctl", "pause", "-m", "0")
	e.Must(t, "vhd-util", "snapshot", "-n", snap, "-p", leaf)
	e.Must(t, "tap-ctl", "unpause", "-m", "0", "-a", "vhd:"+snap)
	// The old leaf is now a parent, read shared: QEMU may look at it,
	// not write it.
	if out, err := exec.Command(qemuImg, "info", "-f", "vpc", leaf).CombinedOutput(); err != nil {
		t.Errorf("qemu-img info on a parent: %v\n%s", err, out)
	}
	out, err = runFor(5*time.Second, qemuNBD, "-f", "vpc", "-k", filepath.Join(dir, "q.sock"), leaf)
	refused("qemu-nbd on a parent", exitCode(err), string(out))
	vhdtest.StartFio(t, uri, "--size=32m", "--runtime=2s", "--verify_only=0").Wait(t)
	e.Must(t, "tap-ctl", "destroy", "-m", "0")
	e.Must(t, "vhd-util", "check", "-n", snap, "-p")
}

// TestQemuServedImageRefused: tapdisk does not open what qemu-nbd writes.
func TestQemuServedImageRefused(t *testing.T) {
	qemuNBD := vhdtest.RequireTool(t, "qemu-nbd")
	e := clitest.New(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "q.vhd")
	e.Must(t, "vhd-util", "create", "-n", img, "-s", "16")
	sock := filepath.Join(dir, "q.sock")
	ctx, cancel := context.WithCancel(context.Background())
	q := exec.CommandContext(ctx, qemuNBD, "-f", "vpc", "-k", sock, "--persistent", img)
	if err := q.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); q.Wait() }()
	for deadline := time.Now().Add(10 * time.Second); ; {
		if _, err := os.Stat(sock); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("qemu-nbd did not start")
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, stderr, code := e.Run(t, "tap-ctl", "create", "-a", "vhd:"+img)
	if code != int(syscall.EBUSY) {
		t.Errorf("tap-ctl create of an image qemu-nbd serves: exit %d, want EBUSY (%d): %s", code, syscall.EBUSY, stderr)
	}
	stdout, stderr, code := e.Run(t, "tapdisk", "vhd:"+img)
	if code != int(syscall.EBUSY) || stdout != "" || !strings.Contains(stderr, "in use") || !strings.Contains(stderr, img) {
		t.Errorf("tapdisk on an image qemu-nbd serves: exit %d (want EBUSY), stdout %q, stderr %s", code, stdout, stderr)
	}
}

// runFor runs a command that should fail at once; one still running
// after d is killed and reported as a success (it took the image).
func runFor(d time.Duration, name string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if ctx.Err() != nil {
		return out, nil
	}
	return out, err
}

func exitCode(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}
