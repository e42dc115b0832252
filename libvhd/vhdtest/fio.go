package vhdtest

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// Fio is a fio run verifying random reads and writes over NBD.
type Fio struct {
	cmd  *exec.Cmd
	out  strings.Builder
	done chan error
}

// FioVerify is one fio job of random 4 KiB reads and writes, every block
// written verified by crc32c, any mismatch fatal (StartFio runs it).
var FioVerify = []string{"--name=verify", "--rw=randrw", "--bs=4k", "--time_based",
	"--verify=crc32c", "--do_verify=1", "--verify_fatal=1", "--verify_backlog=512", "--verify_state_save=0"}

// StartFio starts fio on the NBD export at uri: random 4 KiB reads and
// writes, every block written verified by crc32c (any mismatch fatal).
// args add to or override the defaults: --iodepth, --numjobs (one
// connection each), --size, --offset, --runtime (time-based), ….
func StartFio(t testing.TB, uri string, args ...string) *Fio {
	t.Helper()
	requireFioNBD(t)
	base := []string{"--ioengine=nbd", "--uri=" + uri, "--group_reporting", "--output-format=terse", "--terse-version=3"}
	f := &Fio{cmd: exec.Command("fio", slices.Concat(base, FioVerify, args)...), done: make(chan error, 1)}
	f.cmd.Stdout, f.cmd.Stderr = &f.out, &f.out
	if err := f.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { f.done <- f.cmd.Wait() }()
	t.Cleanup(func() { f.cmd.Process.Kill() })
	return f
}

// requireFioNBD skips the test unless fio and its nbd engine are there.
func requireFioNBD(t testing.TB) {
	t.Helper()
	RequireTool(t, "fio")
	if out, _ := exec.Command("fio", "--enghelp=nbd").CombinedOutput(); !strings.Contains(string(out), "uri") {
		RequireTool(t, "fio with the nbd ioengine")
	}
}

// Running reports whether fio has not ended yet.
func (f *Fio) Running() bool {
	select {
	case err := <-f.done:
		f.done <- err
		return false
	default:
		return true
	}
}

// FioResult is what fio moved.
type FioResult struct{ ReadKiB, WrittenKiB string }

// Wait waits for fio and fails the test unless it ended cleanly with no
// error, having both read and written.
func (f *Fio) Wait(t testing.TB) FioResult {
	t.Helper()
	if err := <-f.done; err != nil {
		t.Fatalf("fio: %v\n%s", err, f.out.String())
	}
	// Terse v3 (after a line the nbd engine may print first): field 5 is
	// the error count, 6 the KiB read, 47 the KiB written.
	out := f.out.String()
	line := out[strings.LastIndex(strings.TrimSpace(out), "\n")+1:]
	fields := strings.Split(strings.TrimSpace(line), ";")
	if len(fields) < 48 || fields[4] != "0" {
		t.Fatalf("fio reported errors:\n%s", out)
	}
	if fields[5] == "0" || fields[46] == "0" {
		t.Fatalf("fio moved no data:\n%s", out)
	}
	return FioResult{ReadKiB: fields[5], WrittenKiB: fields[46]}
}
