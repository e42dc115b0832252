package main

import (
	"io"
	"testing"

	"gotap.dev/libtap/clitest"
)

// TestHelp compares tapdisk --help with testdata/help (-update rewrites
// it).
func TestHelp(t *testing.T) {
	clitest.Help(t, "tapdisk", &flags{}, func(args []string, stdout, stderr io.Writer) int {
		return run(t.Context(), args, stdout, stderr)
	})
}
