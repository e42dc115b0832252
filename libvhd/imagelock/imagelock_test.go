package imagelock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

func open(t *testing.T, path string, flag int) *os.File {
	t.Helper()
	f, err := os.OpenFile(path, flag, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

// Two open file descriptions of one process conflict as two processes
// would: that is what OFD locks give.
func TestModes(t *testing.T) {
	tests := []struct {
		first, second Mode
		ok            bool
	}{
		{Shared, Shared, true},
		{Shared, Exclusive, false},
		{Exclusive, Shared, false},
		{Exclusive, Exclusive, false},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "disk")
		if err := os.WriteFile(path, make([]byte, 4096), 0o644); err != nil {
			t.Fatal(err)
		}
		a, b := open(t, path, os.O_RDWR), open(t, path, os.O_RDWR)
		if err := Lock(a, tt.first); err != nil {
			t.Fatalf("%v: %v", tt.first, err)
		}
		err := Lock(b, tt.second)
		if tt.ok != (err == nil) {
			t.Errorf("%v then %v: err = %v, want ok=%v", tt.first, tt.second, err, tt.ok)
		}
		if err != nil && (!errors.Is(err, ErrLocked) || !errors.Is(err, syscall.EBUSY)) {
			t.Errorf("%v then %v: %v is not ErrLocked and EBUSY", tt.first, tt.second, err)
		}
		var errno syscall.Errno
		if err != nil && (!errors.As(err, &errno) || errno != syscall.EBUSY) {
			t.Errorf("errors.As finds no EBUSY in %v", err)
		}
		// Closing releases everything: a paused VBD's way.
		a.Close()
		b.Close()
		if err := Lock(open(t, path, os.O_RDWR), Exclusive); err != nil {
			t.Errorf("after close of %v: %v", tt.first, err)
		}
	}
}

// A refused Lock leaves nothing behind.
func TestRefusalReleases(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk")
	os.WriteFile(path, make([]byte, 4096), 0o644)
	holder := open(t, path, os.O_RDWR)
	if err := Lock(holder, Exclusive); err != nil {
		t.Fatal(err)
	}
	refused := open(t, path, os.O_RDONLY)
	if Lock(refused, Shared) == nil {
		t.Fatal("shared lock granted beside a writer")
	}
	holder.Close()
	if err := Lock(open(t, path, os.O_RDWR), Exclusive); err != nil {
		t.Fatalf("the refused opener still holds locks: %v", err)
	}
}

// QEMU judges our locks and we judge QEMU's: qemu-img info without -U is
// refused on an image we write, and we refuse one qemu-io has open.
// (A VHD: QEMU's raw driver asks for no consistency, so only a format
// with metadata makes qemu-img info care.)
func TestQEMUInterop(t *testing.T) {
	qemuImg := vhdtest.RequireTool(t, "qemu-img")
	path := filepath.Join(t.TempDir(), "disk.vhd")
	vhdtest.Run(t, qemuImg, "create", "-q", "-f", "vpc", path, "1M")

	f := open(t, path, os.O_RDWR)
	if err := Lock(f, Exclusive); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(qemuImg, "info", "-f", "vpc", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "lock") {
		t.Errorf("qemu-img info on a locked image: err=%v\n%s", err, out)
	}
	if out, err := exec.Command(qemuImg, "info", "-U", "-f", "vpc", path).CombinedOutput(); err != nil {
		t.Errorf("qemu-img info -U: %v\n%s", err, out)
	}
	f.Close()

	// Shared: QEMU may read, not write.
	f = open(t, path, os.O_RDONLY)
	if err := Lock(f, Shared); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(qemuImg, "info", "-f", "vpc", path).CombinedOutput(); err != nil {
		t.Errorf("qemu-img info beside a shared lock: %v\n%s", err, out)
	}
	qemuIO := vhdtest.RequireTool(t, "qemu-io")
	if out, err := exec.Command(qemuIO, "-f", "vpc", "-c", "write 0 512", path).CombinedOutput(); err == nil {
		t.Errorf("qemu-io wrote an image we hold shared:\n%s", out)
	}
	f.Close()

	// QEMU holds it for writing (qemu-io waits on its prompt): we refuse.
	cmd := exec.Command(qemuIO, "-f", "vpc", path)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	buf := make([]byte, 64)
	stdout.Read(buf) // the prompt: the image is open
	for _, m := range []Mode{Shared, Exclusive} {
		if err := Lock(open(t, path, os.O_RDONLY), m); !errors.Is(err, ErrLocked) {
			t.Errorf("%v lock beside qemu-io's writer: %v", m, err)
		}
	}
}

// Unlock lets another open file description of the process upgrade: the
// reader's locks go, its file stays open.
func TestUnlockUpgrades(t *testing.T) {
	path := filepath.Join(t.TempDir(), "disk")
	os.WriteFile(path, make([]byte, 4096), 0o644)
	reader := open(t, path, os.O_RDONLY)
	if err := Lock(reader, Shared); err != nil {
		t.Fatal(err)
	}
	writer := open(t, path, os.O_RDWR)
	if Lock(writer, Exclusive) == nil {
		t.Fatal("exclusive lock granted beside our own reader")
	}
	if err := Unlock(reader); err != nil {
		t.Fatal(err)
	}
	if err := Lock(writer, Exclusive); err != nil {
		t.Fatalf("after Unlock of the reader: %v", err)
	}
	if err := Unlock(writer); err != nil {
		t.Fatal(err)
	}
	if err := Lock(reader, Shared); err != nil {
		t.Fatalf("back to shared after the writer's Unlock: %v", err)
	}
}
