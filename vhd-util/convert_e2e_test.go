package main

import (
	"encoding/json"
	"math/rand/v2"
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

// TestConvertServedDisk: a disk a tapdisk serves (and so locks) is copied
// through its NBD URI, holes kept through NBD block status; the file
// itself is refused while in use.
func TestConvertServedDisk(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-img")
	e := clitest.New(t)
	dir := t.TempDir()
	img, out := filepath.Join(dir, "served.vhd"), filepath.Join(dir, "copy.vhd")
	ok(t, "create", "-n", img, "-s", "40")
	rng := rand.New(rand.NewPCG(4, 4))
	model := make([]byte, 40<<20)
	for _, off := range []int64{0, 9<<20 + 4096, 30 << 20} {
		b := model[off : off+300<<10]
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		writeData(t, img, b, off)
	}
	view := filepath.Join(dir, "model.raw")
	if err := os.WriteFile(view, model, 0o644); err != nil {
		t.Fatal(err)
	}

	td := e.StartTapdisk(t, "vhd:"+img)
	if _, errOut, code := e.Run(t, "vhd-util", "convert", img, "-n", out); code != int(syscall.EBUSY) || !strings.Contains(errOut, "in use") || !strings.Contains(errOut, "NBD URI") {
		t.Errorf("convert of the served file: exit %d, %q; want %d, in use, and the NBD URI to use", code, errOut, int(syscall.EBUSY))
	}
	var sum convertSummary
	if err := json.Unmarshal([]byte(e.Must(t, "vhd-util", "convert", td.URIs[0], "-n", out, "--json")), &sum); err != nil {
		t.Fatal(err)
	}
	if code := td.Stop(t); code != 0 {
		t.Errorf("tapdisk exited %d", code)
	}
	if !strings.HasPrefix(sum.Source, "nbd:unix:") || sum.Holes < 30<<20 {
		t.Errorf("convert --json = %+v; want an nbd:unix: source, most of it holes (block status)", sum)
	}
	vhdtest.Run(t, "qemu-img", "compare", "-f", "vpc", "-F", "raw", out, view)
	wantOutput(t, out+" is valid\n", "check", "-n", out)
	wantOutput(t, "3\n", "query", "-n", out, "-a")
}

// TestConvertInterrupted: killed midway (kill -9), a convert leaves no
// file under DEST's name, only its .partial file; interrupted (SIGINT or
// SIGTERM), it removes that too.
func TestConvertInterrupted(t *testing.T) {
	bin := clitest.Build(t)
	for _, sig := range []syscall.Signal{syscall.SIGKILL, syscall.SIGINT, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) {
			dir := t.TempDir()
			raw, dst := filepath.Join(dir, "disk.raw"), filepath.Join(dir, "disk.vhd")
			data := make([]byte, 16<<20)
			for i := range data {
				data[i] = byte(i%251 + 1)
			}
			if err := os.WriteFile(raw, data, 0o644); err != nil {
				t.Fatal(err)
			}
			// Each 2 MiB read takes 200 ms: time to interrupt.
			cmd := exec.Command(filepath.Join(bin, "vhd-util"), "convert", "delay:read=200ms:aio:"+raw, "-n", dst)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			partial := waitForPartial(t, dir)
			if err := cmd.Process.Signal(sig); err != nil {
				t.Fatal(err)
			}
			if err := cmd.Wait(); err == nil {
				t.Fatalf("convert exited 0 after %v", sig)
			}
			if fileExists(dst) {
				t.Errorf("%s exists after %v", dst, sig)
			}
			if want := sig == syscall.SIGKILL; fileExists(partial) != want {
				t.Errorf("after %v, %s exists: %v; want %v", sig, partial, !want, want)
			}
		})
	}
}

// waitForPartial returns the .partial file a convert writes in dir once
// it appears.
func waitForPartial(t *testing.T, dir string) string {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m, _ := filepath.Glob(filepath.Join(dir, "*.partial-*")); len(m) == 1 {
			return m[0]
		}
	}
	t.Fatal("no .partial file appeared")
	return ""
}
