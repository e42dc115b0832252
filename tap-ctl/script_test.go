package main

import (
	"path/filepath"
	"testing"

	"gotap.dev/libtap/clitest"
	"gotap.dev/libvhd/vhdtest"
)

// TestScripts runs testdata/script/*.txtar: tap-ctl's everyday chains
// (create, list, stats, pause, unpause, destroy, with vhd-util and jq)
// written as the shell sessions they are.
func TestScripts(t *testing.T) {
	vhdtest.RequireTool(t, "jq")
	clitest.Scripts(t, filepath.Join("testdata", "script"))
}
