package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

// oldTap makes a 4 MiB tap 0.1 image (vhdtest.OldTap) with sectors 1-2
// and 7-9 written, runs that read differently in the two bit orders. It
// returns the image's layout before the rewrite, in the new order.
func oldTap(t *testing.T, path string) vhdtest.Layout {
	t.Helper()
	ok(t, "create", "-n", path, "-s", "4")
	writeData(t, path, []byte(strings.Repeat("a", 1024)), 512)
	writeData(t, path, []byte(strings.Repeat("b", 1536)), 7*512)
	before := vhdtest.ReadLayout(t, path)
	vhdtest.OldTap(t, path)
	return before
}

// check -b reads a tap 0.1 image's bitmaps in its own order: valid as
// made, and wrong with the bitmaps put in the specification's order.
func TestCheckOldTapBitOrder(t *testing.T) {
	dir := t.TempDir()
	good, wrong := filepath.Join(dir, "good.vhd"), filepath.Join(dir, "wrong.vhd")
	oldTap(t, good)
	wantOutput(t, good+" is valid\n", "check", "-n", good, "-b")

	spec := oldTap(t, wrong)
	l := vhdtest.ReadLayout(t, wrong)
	copy(l.Bitmap(0), spec.Bitmap(0))
	if err := os.WriteFile(wrong, l.File, 0o644); err != nil {
		t.Fatal(err)
	}
	wantOutput(t, wrong+" is valid\n", "check", "-n", wrong)
	out, _, code := vhdutil(t, "check", "-n", wrong, "-b")
	if code != int(syscall.EINVAL) || !strings.Contains(out, "sector 0x1 of block 0x0 has data where bitmap is clear") {
		t.Errorf("check -b of misordered bitmaps = exit %d, %q; want exit 2 and the data under clear bits", code, out)
	}
}

// tap 0.1's hidden flag lives in the footer copy at offset 0, set without
// updating its checksum: query, scan and check take it as blktap did.
func TestOldTapHiddenFlag(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.vhd")
	oldTap(t, a)
	f, err := os.OpenFile(a, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.WriteAt([]byte{1}, 0x55)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	wantOutput(t, "hidden: 1\n", "query", "-n", a, "-f")
	wantOutput(t, "vhd=a.vhd capacity=4194304 size=2101760 hidden=1 parent=none\n", "scan", a)
	wantOutput(t, a+" is valid\n", "check", "-n", a, "-b")
}
