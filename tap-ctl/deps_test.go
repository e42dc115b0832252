package main

import (
	"testing"

	"gotap.dev/libtap/clitest"
)

// TestDeps: tap-ctl drives tapdisks over the control protocol and opens
// no image itself, so it links no driver, scheduler, ring, VBD or libvhd
// package (nor allocates their buffers when it starts).
func TestDeps(t *testing.T) {
	clitest.LinksNone(t, "gotap.dev/tap-ctl",
		"gotap.dev/libtap/drivers", "gotap.dev/libtap/sched", "gotap.dev/libtap/ring", "gotap.dev/libtap/vbd",
		"gotap.dev/libvhd")
}
