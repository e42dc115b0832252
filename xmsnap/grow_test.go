package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gotap.dev/libtap/clitest"
	"gotap.dev/libvhd/vhdtest"
)

// TestGrowUnderFio grows a served disk while fio writes and verifies:
// fio sees no error, a new NBD connection sees the new size and can use
// the new space; shrinking, and growing past the BAT reserved at
// creation, are refused with the disk still serving at its size.
func TestGrowUnderFio(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-io")
	vhdtest.RequireTool(t, "nbdinfo")
	e := clitest.New(t)
	base := filepath.Join(t.TempDir(), "disk.vhd")
	e.Must(t, "vhd-util", "create", "-n", base, "-s", "64", "-S", "1024")
	uri := strings.TrimSpace(e.Must(t, "tap-ctl", "create", "-a", "vhd:"+base))
	fio := vhdtest.StartFio(t, uri, "--iodepth=16", "--size=32M", "--runtime=15")
	time.Sleep(time.Second)

	if got := e.Must(t, "xmsnap", "grow", "-s", "128", "0"); got != "134217728\n" {
		t.Errorf("xmsnap grow -s 128 = %q; want the new size in bytes", got)
	}
	nbdSize := func() string {
		return strings.TrimSpace(vhdtest.Run(t, "nbdinfo", "--size", uri))
	}
	if got := nbdSize(); got != "134217728" {
		t.Errorf("nbdinfo --size after growing = %s; want 134217728", got)
	}
	vhdtest.Run(t, "qemu-io", "-f", "raw", "-c", fmt.Sprintf("write -P 0x5a %d 65536", 100<<20), uri)
	vhdtest.Run(t, "qemu-io", "-f", "raw", "-c", fmt.Sprintf("read -P 0x5a %d 65536", 100<<20), uri)

	for _, tc := range []struct{ mb, want string }{
		{"32", "size (33554432) < curr size (134217728)"},
		{"4096", "reserved at creation"},
	} {
		_, stderr, code := e.Run(t, "xmsnap", "grow", "-s", tc.mb, "0")
		if code != exitFail || !strings.Contains(stderr, tc.want) {
			t.Errorf("xmsnap grow -s %s: exit %d, %q; want %d saying %q", tc.mb, code, stderr, exitFail, tc.want)
		}
	}
	if got := nbdSize(); got != "134217728" {
		t.Errorf("nbdinfo --size after the refusals = %s; want 134217728", got)
	}
	if !fio.Running() {
		t.Fatal("fio ended before the grow did")
	}
	fio.Wait(t)
	e.Must(t, "tap-ctl", "destroy", "-m", "0")
	e.Must(t, "vhd-util", "check", "-n", base)
	if got := e.Must(t, "vhd-util", "query", "-v", "-n", base); got != "128\n" {
		t.Errorf("vhd-util query -v = %q; want 128", got)
	}
	info := vhdtest.Run(t, "qemu-img", "info", "-f", "vpc", base)
	if !strings.Contains(info, "(134217728 bytes)") {
		t.Errorf("qemu-img info after growing:\n%s", info)
	}
}
