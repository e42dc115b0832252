package main

import (
	"crypto/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

// TestNbdcopyThroughVHD: 256 MiB of random data copied into a dynamic
// VHD served by tapdisk and back out is identical; after tapdisk stops,
// the image checks valid and QEMU reads the same bytes from it.
func TestNbdcopyThroughVHD(t *testing.T) {
	vhdtest.RequireTool(t, "nbdcopy")
	const size = 256 << 20
	dir := t.TempDir()
	src := filepath.Join(dir, "src.raw")
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	img := newVHD(t, size)
	p := start(t, t.TempDir(), []string{"vhd:" + img})
	vhdtest.Run(t, "nbdcopy", "--flush", src, p.uris[0])
	out := filepath.Join(dir, "out.raw")
	vhdtest.Run(t, "nbdcopy", p.uris[0], out)
	vhdtest.Run(t, "cmp", src, out)
	if code := p.stop(t); code != 0 {
		t.Fatalf("tapdisk exited %d", code)
	}
	problems, err := libvhd.Check(img, libvhd.CheckOptions{Bitmaps: true})
	if err != nil || len(problems) > 0 {
		t.Fatalf("check after stop: %v %v", problems, err)
	}
	cmp := vhdtest.Run(t, "qemu-img", "compare", "-f", "vpc", "-F", "raw", img, src)
	if !strings.Contains(cmp, "identical") {
		t.Fatalf("qemu-img compare: %s", cmp)
	}
}
