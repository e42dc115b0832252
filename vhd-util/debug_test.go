package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// --debug goes anywhere on the line, as blktap's scripts put it, and
// never changes stdout.
func TestDebugAnywhere(t *testing.T) {
	a := filepath.Join(t.TempDir(), "a.vhd")
	ok(t, "create", "-n", a, "-s", "16")
	want := ok(t, "query", "-n", a, "-v", "-s")
	for _, args := range [][]string{
		{"--debug", "query", "-n", a, "-v", "-s"},
		{"query", "--debug", "-n", a, "-v", "-s"},
		{"query", "-n", a, "-v", "-s", "--debug"},
	} {
		out, errs, code := vhdutil(t, args...)
		if code != 0 || out != want || !strings.Contains(errs, "level=DEBUG") {
			t.Errorf("vhd-util %v = exit %d, stdout %q, stderr %q; want exit 0, stdout %q, debug lines on stderr", args, code, out, errs, want)
		}
	}
	if _, errs, _ := vhdutil(t, "query", "-n", a, "-v"); errs != "" {
		t.Errorf("without --debug, stderr %q; want nothing", errs)
	}
}
