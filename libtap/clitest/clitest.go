// Package clitest runs the project's commands from end-to-end tests:
// it builds them into a temporary bin folder and gives each test a run
// directory of its own, so tests run tap-ctl, tapdisk, xmsnap and
// vhd-util the way a user's shell does.
package clitest

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/tapscan"
)

// Env is a bin folder holding the commands and a run directory.
type Env struct {
	Bin    string
	RunDir rundir.Dir
}

// commands are the workspace's binaries a test may run.
var commands = []string{"tapdisk", "tap-ctl", "xmsnap", "vhd-util", "vhd-update"}

// New builds the commands into a temporary folder (the go build cache
// makes that quick) and sets PATH and BLKTAP_RUN_DIR for the test (so it
// may not be parallel). At the end it checks that no tapdisk of the run
// directory is left running.
func New(t *testing.T) *Env {
	t.Helper()
	e := &Env{Bin: t.TempDir(), RunDir: rundir.Dir(filepath.Join(t.TempDir(), "run"))}
	args := []string{"build", "-o", e.Bin + "/"}
	for _, c := range commands {
		args = append(args, "gotap.dev/"+c)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Setenv("PATH", e.Bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	t.Setenv(rundir.Env, string(e.RunDir))
	t.Cleanup(func() { e.killLeft(t) })
	return e
}

// Run runs a command and returns its stdout, stderr and exit code.
func (e *Env) Run(t *testing.T, name string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(e.Bin, name), args...)
	var out, errOut strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatalf("%s: %v", name, err)
	}
	return out.String(), errOut.String(), cmd.ProcessState.ExitCode()
}

// Must runs a command that has to succeed and returns its stdout.
func (e *Env) Must(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, errOut, code := e.Run(t, name, args...)
	if code != 0 {
		t.Fatalf("%s %s: exit %d\n%s%s", name, strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// Left lists what is left in the run directory (the empty tapdisk/
// folder aside).
func (e *Env) Left(t *testing.T) []string {
	t.Helper()
	var left []string
	filepath.WalkDir(string(e.RunDir), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			left = append(left, path)
		}
		return nil
	})
	return left
}

// Running lists the pids of the run directory's tapdisks still alive.
func (e *Env) Running(t *testing.T) []int {
	t.Helper()
	ctls, err := e.RunDir.List()
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, c := range ctls {
		if tapscan.ProcessAlive(c.Pid) {
			pids = append(pids, c.Pid)
		}
	}
	return pids
}

// killLeft ends the tapdisks a failed test left, so they do not outlive
// it; a test that passed must have left none.
func (e *Env) killLeft(t *testing.T) {
	pids := e.Running(t)
	for _, pid := range pids {
		if p, err := os.FindProcess(pid); err == nil {
			p.Kill()
		}
	}
	if len(pids) > 0 && !t.Failed() {
		t.Errorf("tapdisks left running: %v", pids)
	}
}
