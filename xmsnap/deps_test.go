package main

import (
	"testing"

	"gotap.dev/libtap/clitest"
)

// TestDeps: xmsnap drives a tapdisk over the control protocol and makes
// the snapshot with libvhd: it links no driver, scheduler, ring or VBD
// package.
func TestDeps(t *testing.T) {
	clitest.LinksNone(t, "gotap.dev/xmsnap",
		"gotap.dev/libtap/drivers", "gotap.dev/libtap/sched", "gotap.dev/libtap/ring", "gotap.dev/libtap/vbd")
}
