package main

import (
	"runtime/debug"
	"strings"
	"testing"
)

// raceFlags build the tapdisk under test with the race detector when the
// tests run with it (go test -race): the daemon's goroutines, where the
// engine runs, are the ones worth checking, not only the test's.
func raceFlags() []string {
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-race" && s.Value == "true" {
				return []string{"-race"}
			}
		}
	}
	return nil
}

// checkRaces fails the test if the tapdisk's stderr holds a race report
// (the detector reports as it finds one, so a killed tapdisk's counts).
func checkRaces(t *testing.T, stderr string) {
	t.Helper()
	if strings.Contains(stderr, "WARNING: DATA RACE") {
		t.Error("the race detector reported a data race in tapdisk")
	}
}
