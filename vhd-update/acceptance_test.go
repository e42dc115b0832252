package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/clitest"
	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

// Acceptance, judged by outside tools: a tap 0.1 image with data in
// several blocks reads right through libvhd and through tapdisk, which
// keeps the old bit order when it writes and holds the image against
// vhd-update; vhd-update converts it, and QEMU and libvhdi then read the
// expected bytes.

// pattern is n bytes, none of them zero, so that written sectors can be
// told from the model.
func pattern(n int, seed byte) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = (seed + byte(i)) | 1
	}
	return b
}

// writtenIn says whether the model's sector s holds data.
func writtenIn(model []byte) func(s int64) bool {
	return func(s int64) bool {
		return slices.ContainsFunc(model[s*512:(s+1)*512], func(b byte) bool { return b != 0 })
	}
}

// creatorVersion is the EOF footer's creator version, read as the format
// describes it.
func creatorVersion(t *testing.T, path string) uint32 {
	t.Helper()
	return binary.BigEndian.Uint32(vhdtest.ReadLayout(t, path).Footer[0x20:])
}

func writeFile(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestAcceptanceOldTapImage(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-img")
	vhdtest.RequireTool(t, "qemu-io")
	e := clitest.New(t)
	dir := t.TempDir()
	path := filepath.Join(dir, "old.vhd")
	model := oldImage(t, path, 20<<20, map[int64][]byte{
		512:             pattern(1024, 1),   // sectors 1-2 of block 0
		3<<20 + 7*512:   pattern(4096, 2),   // sectors 7-14 of block 1
		4 << 20:         pattern(64<<10, 3), // the start of block 2
		19<<20 + 30*512: pattern(2048, 4),   // sectors 30-33 of block 9
		8<<20 + 1<<20:   pattern(1<<20, 5),  // the second half of block 4
	})

	// The image is what BLKTAP-OUTPUT.md describes, and its bits read
	// otherwise in the specification's order.
	if v := creatorVersion(t, path); v != vhdtest.OldTapVersion {
		t.Fatalf("creator version %#x, want 0.1", v)
	}
	if n := vhdtest.BitMismatches(t, path, writtenIn(model), vhdtest.OldTapBit); n > 0 {
		t.Fatalf("%d bits of the old order disagree with the data", n)
	}
	if vhdtest.BitMismatches(t, path, writtenIn(model), vhdtest.SpecBit) == 0 {
		t.Fatal("the data reads the same in both bit orders: the test tells nothing")
	}
	readsModel(t, path, model)
	e.Must(t, "vhd-util", "check", "-b", "-n", path)

	// Through tapdisk: the data, a write into a new block and an old one,
	// and vhd-update refused while it serves the image.
	uri := strings.TrimSpace(e.Must(t, "tap-ctl", "create", "-a", "vhd:"+path))
	vhdtest.Run(t, "qemu-img", "compare", "-f", "raw", "-F", "raw", uri, writeFile(t, filepath.Join(dir, "before.raw"), model))
	for _, w := range []struct{ off, len int }{{6<<20 + 1024, 1536}, {3<<20 + 20*512, 512}} {
		vhdtest.Run(t, "qemu-io", "-f", "raw", "-c", fmt.Sprintf("write -P 0x5d %d %d", w.off, w.len), uri)
		copy(model[w.off:w.off+w.len], bytes.Repeat([]byte{0x5d}, w.len))
	}
	if _, errs, code := e.Run(t, "vhd-update", "-n", path); code != exitRefused || !strings.Contains(errs, "in use") {
		t.Errorf("vhd-update of a served image: exit %d, %q; want exit 1, in use", code, errs)
	}
	e.Must(t, "tap-ctl", "destroy", "-m", uri[strings.LastIndex(uri, ".")+1:])
	if n := vhdtest.BitMismatches(t, path, writtenIn(model), vhdtest.OldTapBit); n > 0 || creatorVersion(t, path) != vhdtest.OldTapVersion {
		t.Fatalf("after tapdisk wrote: version %#x, %d bits of the old order disagree with the data", creatorVersion(t, path), n)
	}

	raw := writeFile(t, filepath.Join(dir, "model.raw"), model)
	if out := e.Must(t, "vhd-update", "-n", path); out != path+": converted to creator version tap 1.1\n" {
		t.Errorf("vhd-update printed %q", out)
	}
	if v := creatorVersion(t, path); v != 0x00010001 {
		t.Errorf("creator version %#x after the update, want 1.1", v)
	}
	if n := vhdtest.BitMismatches(t, path, writtenIn(model), vhdtest.SpecBit); n > 0 {
		t.Errorf("%d bits of the specification's order disagree with the data", n)
	}
	vhdtest.Run(t, "qemu-img", "compare", "-f", "vpc", "-F", "raw", path, raw)
	vhdtest.Run(t, "cmp", vhdtest.VhdimountTop(t, path, 1), raw)
	readsModel(t, path, model)
	e.Must(t, "vhd-util", "check", "-b", "-n", path)

	converted, _ := os.ReadFile(path)
	if out := e.Must(t, "vhd-update", "-n", path); !strings.Contains(out, "left untouched") {
		t.Errorf("vhd-update of a converted image printed %q", out)
	}
	if again, _ := os.ReadFile(path); !bytes.Equal(again, converted) {
		t.Error("vhd-update changed a converted image")
	}
}

// readsModel fails the test unless libvhd reads the image as model.
func readsModel(t *testing.T, path string, model []byte) {
	t.Helper()
	im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true, NoLock: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	got := make([]byte, len(model))
	if _, err := im.ReadAt(got, 0); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, model) {
		t.Error("libvhd reads other bytes than the model's")
	}
}

// An image qemu-nbd serves is refused, and converted once it is let go.
func TestAcceptanceRefusesQEMUServedImage(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "old.vhd")
	oldImage(t, path, 4<<20, map[int64][]byte{512: pattern(1024, 1)})
	before, _ := os.ReadFile(path)
	stop := qemuNBD(t, path, dir)
	if _, errs, code := vhdupdate("-n", path); code != exitRefused || !strings.Contains(errs, "in use") {
		t.Errorf("vhd-update beside qemu-nbd: exit %d, %q; want exit 1, in use", code, errs)
	}
	if after, _ := os.ReadFile(path); !bytes.Equal(after, before) {
		t.Error("the refused vhd-update changed the image")
	}
	stop()
	if out, errs, code := vhdupdate("-n", path); code != exitOK {
		t.Errorf("vhd-update once qemu-nbd is gone: exit %d, %q, %q", code, out, errs)
	}
}

// qemuNBD serves path with qemu-nbd (which locks it for writing) and
// returns a function that stops it; the test's end stops it too.
func qemuNBD(t *testing.T, path, dir string) (stop func()) {
	t.Helper()
	pidFile := filepath.Join(dir, "qemu-nbd.pid")
	vhdtest.Run(t, "qemu-nbd", "--fork", "--pid-file", pidFile, "--socket", filepath.Join(dir, "nbd.sock"), "-f", "vpc", path)
	b, err := os.ReadFile(pidFile)
	pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || perr != nil {
		t.Fatalf("qemu-nbd pid file: %v, %v", err, perr)
	}
	stop = func() {
		if syscall.Kill(pid, syscall.SIGTERM) != nil {
			return // already gone
		}
		for deadline := time.Now().Add(10 * time.Second); syscall.Kill(pid, 0) == nil; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("qemu-nbd %d still running after SIGTERM", pid)
			}
		}
	}
	t.Cleanup(stop)
	return stop
}
