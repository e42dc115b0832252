package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

// Acceptance: `resize -j` from 1 GiB to 64 GiB of an image whose BAT has
// no room (1 GiB fills its four sectors), judged by QEMU and libvhdi: the
// new size, the old data where it was, zeros after; `-f` within the size
// reserved by create -S works and beyond it is refused.
func TestAcceptanceResize(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-img")
	vhdtest.RequireTool(t, "vhdiinfo")
	dir := t.TempDir()
	img, journal, model := filepath.Join(dir, "disk.vhd"), filepath.Join(dir, "disk.journal"), filepath.Join(dir, "model.raw")
	ok(t, "create", "-n", img, "-s", "1024")
	head, tail := bytes.Repeat([]byte{0x5a}, 5<<20), bytes.Repeat([]byte{0xa5}, 1<<20)
	writeData(t, img, head, 0) // the first blocks: in the new BAT's way
	writeData(t, img, tail, 1<<30-1<<20)
	raw := append(head, make([]byte, 1<<30-1<<20-len(head))...)
	if err := os.WriteFile(model, append(raw, tail...), 0o644); err != nil {
		t.Fatal(err)
	}

	wantOutput(t, "", "resize", "--debug", "-s", "65536", "-n", img, "-j", journal)
	if _, err := os.Stat(journal); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("journal left: %v", err)
	}
	wantSize(t, img, 64<<30)
	if err := os.Truncate(model, 64<<30); err != nil { // zeros after the old end
		t.Fatal(err)
	}
	vhdtest.Run(t, "qemu-img", "compare", "-f", "vpc", "-F", "raw", img, model)
	wantOutput(t, img+" is valid\n", "check", "-n", img, "-p", "-b")

	fast := filepath.Join(dir, "fast.vhd")
	ok(t, "create", "-n", fast, "-s", "1024", "-S", "4096")
	writeData(t, fast, head, 0)
	wantOutput(t, "", "resize", "-s", "4096", "-n", fast, "-f")
	wantSize(t, fast, 4<<30)
	wantOutput(t, fast+" is valid\n", "check", "-n", fast, "-p")
	out, _, code := vhdutil(t, "resize", "-s", "4097", "-n", fast, "-f")
	if code != int(syscall.EINVAL) || out != "resize failed: -22\n" {
		t.Errorf("resize -f past -S: exit %d, stdout %q; want exit %d, \"resize failed: -22\"", code, out, int(syscall.EINVAL))
	}
	wantSize(t, fast, 4<<30)
}

// wantSize checks the virtual size QEMU and libvhdi report.
func wantSize(t *testing.T, img string, want int64) {
	t.Helper()
	var info struct {
		VirtualSize int64 `json:"virtual-size"`
	}
	if err := json.Unmarshal([]byte(vhdtest.Run(t, "qemu-img", "info", "-f", "vpc", "--output=json", img)), &info); err != nil {
		t.Fatal(err)
	}
	if info.VirtualSize != want {
		t.Errorf("qemu-img virtual-size = %d; want %d", info.VirtualSize, want)
	}
	m := mediaSize.FindStringSubmatch(vhdtest.Run(t, "vhdiinfo", img))
	if got, _ := strconv.ParseInt(m[1], 10, 64); m == nil || got != want {
		t.Errorf("vhdiinfo media size = %v; want %d", m, want)
	}
}

// Bad requests: blktap's texts on stdout, a clear error on stderr, exit
// 1, and the image untouched.
func TestResizeRefuses(t *testing.T) {
	dir := t.TempDir()
	img := filepath.Join(dir, "disk.vhd")
	ok(t, "create", "-n", img, "-s", "20")
	before, _ := os.ReadFile(img)
	tests := []struct {
		args   []string
		stdout string
		stderr string
	}{
		{[]string{"-s", "10", "-j", filepath.Join(dir, "j")}, img + ": size (10485760) < curr size (20971520)\nresize failed: -22\n", "shrinking is not supported"},
		{[]string{"-s", "30", "-f"}, "resize failed: -22\n", "create -S"},
		{[]string{"-s", "30"}, "", "give -j JOURNAL or -f"},
		{[]string{"-s", "30", "-f", "-j", "j"}, "", "give -j JOURNAL or -f"},
	}
	for _, tt := range tests {
		out, errs, code := vhdutil(t, append([]string{"resize", "-n", img}, tt.args...)...)
		if code != int(syscall.EINVAL) || out != tt.stdout || !strings.Contains(errs, tt.stderr) {
			t.Errorf("resize %q: exit %d, stdout %q, stderr %q; want exit %d, %q, %q", tt.args, code, out, errs, int(syscall.EINVAL), tt.stdout, tt.stderr)
		}
	}
	if after, _ := os.ReadFile(img); !bytes.Equal(after, before) {
		t.Error("the image changed")
	}
}

// fill allocates every block and the image reads as before.
func TestFill(t *testing.T) {
	dir := t.TempDir()
	base, leaf := filepath.Join(dir, "base.vhd"), filepath.Join(dir, "leaf.vhd")
	ok(t, "create", "-n", base, "-s", "8")
	writeData(t, base, bytes.Repeat([]byte{7}, 3<<20), 1<<20)
	ok(t, "snapshot", "-n", leaf, "-p", base)
	writeData(t, leaf, bytes.Repeat([]byte{9}, 4096), 5<<20)
	want := readChain(t, leaf)
	for _, tt := range []struct {
		args  []string
		alloc string
	}{{[]string{"-b"}, "4\n"}, {nil, "4\n"}} {
		wantOutput(t, "", append([]string{"fill", "-n", leaf}, tt.args...)...)
		wantOutput(t, tt.alloc, "query", "-n", leaf, "-a")
		if got := readChain(t, leaf); !bytes.Equal(got, want) {
			t.Errorf("fill %q: the disk reads differently", tt.args)
		}
		wantOutput(t, validLines(leaf, base), "check", "-n", leaf, "-p", "-b")
	}
	fails(t, syscall.EINVAL, "fixed", "fill", "-n", mustFixed(t, dir))
}

func mustFixed(t *testing.T, dir string) string {
	p := filepath.Join(dir, "fixed.vhd")
	ok(t, "create", "-n", p, "-s", "4", "-r")
	return p
}
