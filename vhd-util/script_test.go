package main

import (
	"path/filepath"
	"testing"

	"gotap.dev/libtap/clitest"
)

// TestScripts runs testdata/script/*.txtar: vhd-util's chains of
// commands written as the shell sessions they are.
func TestScripts(t *testing.T) {
	clitest.Scripts(t, filepath.Join("testdata", "script"))
}
