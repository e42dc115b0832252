package main

import (
	"fmt"
	"strings"
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

// TestListStartsSmall: no package tap-ctl links allocates a buffer when
// the program starts (the drivers' 1 MiB zero and bounce buffers did,
// when it linked them): the runtime's init trace of `tap-ctl list`
// shows no package's init allocating as much as bigInit.
func TestListStartsSmall(t *testing.T) {
	const bigInit = 64 << 10
	e := clitest.New(t)
	t.Setenv("GODEBUG", "inittrace=1")
	_, trace, code := e.Run(t, "tap-ctl", "list")
	if code != 0 {
		t.Fatalf("tap-ctl list: exit %d\n%s", code, trace)
	}
	inits := 0
	for line := range strings.Lines(trace) {
		// init PKG @T ms, C ms clock, N bytes, M allocs
		var pkg string
		var at, clock float64
		var bytes, allocs int
		if _, err := fmt.Sscanf(line, "init %s @%f ms, %f ms clock, %d bytes, %d allocs", &pkg, &at, &clock, &bytes, &allocs); err != nil {
			continue
		}
		inits++
		if bytes >= bigInit {
			t.Errorf("init of %s allocates %d bytes (%d allocs)", pkg, bytes, allocs)
		}
	}
	if inits == 0 {
		t.Fatalf("no init trace from tap-ctl list:\n%s", trace)
	}
}
