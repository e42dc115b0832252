package main

import (
	"context"
	"strings"
	"testing"
)

func TestHelp(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(context.Background(), []string{"--help"}, &out, &errOut); code != exitOK {
		t.Fatalf("xmsnap --help: exit %d, %s", code, errOut.String())
	}
	for _, w := range []string{"DISK", "minor", "vhd:", "-n, --name", "snapN", "--json", "--run-dir", "Exit status", "paused"} {
		if !strings.Contains(out.String(), w) {
			t.Errorf("xmsnap --help lacks %q:\n%s", w, out.String())
		}
	}
}

func TestUsage(t *testing.T) {
	var out, errOut strings.Builder
	if code := run(context.Background(), nil, &out, &errOut); code != exitUsage || !strings.Contains(errOut.String(), "DISK") {
		t.Errorf("xmsnap with no DISK: exit %d, %q; want %d naming DISK", code, errOut.String(), exitUsage)
	}
}
