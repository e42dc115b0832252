package main

import (
	"path/filepath"
	"strings"
	"testing"

	"gotap.dev/libtap/clitest"
	"gotap.dev/libvhd/vhdtest/vhdcreate"
)

// TestDisabledImageRefused: an image an interrupted journaled operation
// left disabled is served by no tapdisk, as a leaf or as a parent, and
// the refusal names the command that gives it back; after that command
// it is served again.
func TestDisabledImageRefused(t *testing.T) {
	e := clitest.New(t)
	dir := t.TempDir()
	parent, child := filepath.Join(dir, "parent.vhd"), filepath.Join(dir, "child.vhd")
	journal := filepath.Join(dir, "parent.journal")
	e.Must(t, "vhd-util", "create", "-n", parent, "-s", "16")
	e.Must(t, "vhd-util", "snapshot", "-n", child, "-p", parent)
	vhdcreate.Disable(t, parent, journal)
	hint := "vhd-util revert -n " + parent + " -j " + journal

	for _, img := range []string{parent, child} {
		if _, stderr, code := e.Run(t, "tap-ctl", "create", "-a", "vhd:"+img); code == 0 || !strings.Contains(stderr, hint) {
			t.Errorf("tap-ctl create -a vhd:%s: exit %d, %q; want a failure saying %q", img, code, stderr, hint)
		}
		if stdout, stderr, code := e.Run(t, "tapdisk", "vhd:"+img); code == 0 || stdout != "" || !strings.Contains(stderr, hint) {
			t.Errorf("tapdisk vhd:%s: exit %d, stdout %q, stderr %q; want a failure saying %q", img, code, stdout, stderr, hint)
		}
	}
	if left := e.Left(t); len(left) != 0 {
		t.Errorf("refused opens left %q in the run directory", left)
	}
	e.Must(t, "vhd-util", "revert", "-n", parent, "-j", journal)
	e.Must(t, "tap-ctl", "create", "-a", "vhd:"+child)
	e.Must(t, "tap-ctl", "destroy", "-m", "0")
}
