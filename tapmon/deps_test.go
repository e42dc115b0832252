package main

import (
	"testing"

	"gotap.dev/libtap/clitest"
)

// TestDeps: tapmon watches tapdisks over the control protocol and reads
// chains with libvhd: it links no driver, scheduler, ring or VBD
// package.
func TestDeps(t *testing.T) {
	clitest.LinksNone(t, "gotap.dev/tapmon",
		"gotap.dev/libtap/drivers", "gotap.dev/libtap/sched", "gotap.dev/libtap/ring", "gotap.dev/libtap/vbd")
}
