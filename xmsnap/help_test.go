package main

import (
	"context"
	"io"
	"strings"
	"testing"

	"gotap.dev/libtap/clitest"
)

// TestHelp compares xmsnap --help with testdata/help (-update rewrites
// it).
func TestHelp(t *testing.T) {
	clitest.Help(t, "xmsnap", &cli{}, func(args []string, stdout, stderr io.Writer) int {
		return run(context.Background(), args, stdout, stderr)
	})
}

func TestUsage(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(context.Background(), nil, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "DISK") {
		t.Errorf("xmsnap with no DISK: exit %d, %q; want %d naming DISK", code, errOut.String(), exitUsage)
	}
}
