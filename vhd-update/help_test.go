package main

import (
	"testing"

	"gotap.dev/libtap/clitest"
)

// TestHelp compares vhd-update --help with testdata/help (-update
// rewrites it).
func TestHelp(t *testing.T) {
	clitest.Help(t, "vhd-update", &cli{}, run)
}
