package main

import (
	"io"
	"strings"
	"testing"

	"gotap.dev/libtap/clitest"
)

// TestHelp compares tapmon --help with testdata/help (-update rewrites
// it).
func TestHelp(t *testing.T) {
	clitest.Help(t, "tapmon", &flags{}, func(args []string, stdout, stderr io.Writer) int {
		return run(args, strings.NewReader(""), stdout, stderr)
	})
}
