package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

// query -s is the end of the data plus the footer, on a block device as
// on a file: an LVM volume is larger than the image it holds.
func TestQueryPhysicalOnBlockDevice(t *testing.T) {
	if os.Geteuid() != 0 {
		if vhdtest.InCI() {
			t.Fatal("a loop device needs root")
		}
		t.Skip("a loop device needs root")
	}
	a := filepath.Join(t.TempDir(), "a.vhd")
	ok(t, "create", "-n", a, "-s", "20")
	writeData(t, a, bytes.Repeat([]byte{1}, 4096), 0)
	// The footer at the end of 16 MiB, as SM leaves an inflated LV.
	ok(t, "modify", "-n", a, "-s", "16M")
	// Block 0 went past the footer the new image ended with (3072 + 512):
	// its 512-byte bitmap and 2 MiB of data end the data; then the footer.
	wantOutput(t, "block: 0: offset: 3584\n", "read", "-n", a, "-b", "0")
	const want = "2101760\n" // 3584 + 512 + 2 MiB + 512
	wantOutput(t, want, "query", "-n", a, "-s")
	dev := vhdtest.LoopDevice(t, a)
	wantOutput(t, "20\n"+want, "query", "--debug", "-s", "-v", "-n", dev)
}

// A line that cannot be had prints blktap's failure line in its place and
// sets the exit status; the other lines still come, in their place.
func TestQueryFailures(t *testing.T) {
	dir := t.TempDir()
	at := func(n string) string { return filepath.Join(dir, n) }
	ok(t, "create", "-n", at("base.vhd"), "-s", "20")
	ok(t, "snapshot", "-n", at("leaf.vhd"), "-p", at("base.vhd"))
	if err := os.Rename(at("base.vhd"), at("gone.vhd")); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args   []string
		code   syscall.Errno
		stdout string
		stderr string
	}{
		// SM's call: its parser finds the hidden flag and the count in
		// their places.
		{[]string{"--debug", "-vsafp", "-n", at("leaf.vhd")}, syscall.ENOENT,
			"20\n5120\nquery failed\nhidden: 0\n0\n", "parent not found"},
		{[]string{"-d", "-v", "-n", at("leaf.vhd")}, syscall.ENOENT,
			"20\nerror checking chain depth: -2\n", "parent not found"},
		{[]string{"-p", "-u", "-n", at("leaf.vhd")}, 0, "./base.vhd\n", ""},
		{[]string{"-v", "-n", at("none.vhd")}, syscall.ENOENT,
			"error opening " + at("none.vhd") + ": -2\n", "no such file"},
		{[]string{"-a", "-n", at("base.vhd")}, syscall.ENOENT,
			"error opening " + at("base.vhd") + ": -2\n", "no such file"},
	}
	for _, tt := range tests {
		out, errs, code := vhdutil(t, append([]string{"query"}, tt.args...)...)
		if code != int(tt.code) || out != tt.stdout || !strings.Contains(errs, tt.stderr) {
			t.Errorf("query %q = exit %d, stdout %q, stderr %q; want exit %d, %q, stderr naming %q", tt.args, code, out, errs, tt.code, tt.stdout, tt.stderr)
		}
	}
}

func TestMapperPath(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/dev/VG_XenStorage-1/VHD-ab", "/dev/mapper/VG_XenStorage--1-VHD--ab"},
		{"/dev/mapper/vg-lv", "/dev/mapper/vg-lv"},
		{"/dev/loop0", ""},
		{"/dev/a/b/c", ""},
		{"/srv/vg/lv", ""},
	}
	for _, tt := range tests {
		if got, _ := mapperPath(tt.in); got != tt.want {
			t.Errorf("mapperPath(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}
