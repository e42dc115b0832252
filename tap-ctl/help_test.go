package main

import (
	"context"
	"io"
	"testing"

	"gotap.dev/libtap/clitest"
)

// TestHelp compares the --help of tap-ctl and of each of its commands
// with testdata/help (-update rewrites it): each names every flag
// blktap's users need, so the tool can be used without the README.
func TestHelp(t *testing.T) {
	clitest.Help(t, "tap-ctl", &cli{}, func(args []string, stdout, stderr io.Writer) int {
		return run(context.Background(), args, stdout, stderr)
	})
}
