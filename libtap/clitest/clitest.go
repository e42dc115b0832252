// Package clitest runs the project's commands from end-to-end tests:
// it builds them into a temporary bin folder and gives each test a run
// directory of its own, so tests run tap-ctl, tapdisk, xmsnap and
// vhd-util the way a user's shell does, tapdisk in the background too.
// Scripts runs such sessions written as testscript files; Golden and
// Help compare output, --help texts among it, with files in testdata/;
// LinksNone checks that a command links none of the packages it must
// not (the engine's layers, for the tools that only talk to tapdisks).
package clitest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

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

// Build builds the commands into a temporary folder (the go build cache
// makes that quick) and returns it.
func Build(t testing.TB) string {
	t.Helper()
	bin := t.TempDir()
	args := []string{"build", "-o", bin + "/"}
	for _, c := range commands {
		args = append(args, "gotap.dev/"+c)
	}
	if out, err := exec.Command("go", args...).CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return bin
}

// New builds the commands (Build) and sets PATH and BLKTAP_RUN_DIR for
// the test (so it may not be parallel). At the end it checks that no
// tapdisk of the run directory is left running.
func New(t *testing.T) *Env {
	t.Helper()
	e := &Env{Bin: Build(t), RunDir: rundir.Dir(filepath.Join(t.TempDir(), "run"))}
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
	pids, err := running(e.RunDir)
	if err != nil {
		t.Fatal(err)
	}
	return pids
}

// running lists the pids of dir's tapdisks still alive.
func running(dir rundir.Dir) ([]int, error) {
	ctls, err := dir.List()
	var pids []int
	for _, c := range ctls {
		if tapscan.ProcessAlive(c.Pid) {
			pids = append(pids, c.Pid)
		}
	}
	return pids, err
}

// killRunning kills the tapdisks of dir still alive and returns their
// pids.
func killRunning(dir rundir.Dir) ([]int, error) {
	pids, err := running(dir)
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	return pids, err
}

// killLeft ends the tapdisks a failed test left, so they do not outlive
// it; a test that passed must have left none.
func (e *Env) killLeft(t *testing.T) {
	pids, err := killRunning(e.RunDir)
	if err != nil {
		t.Error(err)
	}
	if len(pids) > 0 && !t.Failed() {
		t.Errorf("tapdisks left running: %v", pids)
	}
}

// Tapdisk is a tapdisk serving the images of its command line, started
// in the background as `tapdisk IMAGE… &` in a shell.
type Tapdisk struct {
	Cmd    *exec.Cmd
	Ctl    string   // the control socket it printed
	URIs   []string // the NBD URI it printed for each image
	exited chan struct{}
}

// waitTimeout bounds the wait for a tapdisk's lines, and for its exit.
const waitTimeout = 10 * time.Second

// StartTapdisk runs tapdisk on images and returns once it has printed
// its control socket and a URI per image (it opened them all). The
// test's end kills it if it still runs.
func (e *Env) StartTapdisk(t *testing.T, images ...string) *Tapdisk {
	t.Helper()
	td := &Tapdisk{Cmd: exec.Command(filepath.Join(e.Bin, "tapdisk"), images...), exited: make(chan struct{})}
	var stderr strings.Builder // read once exited is closed
	td.Cmd.Stderr = &stderr
	out, err := td.Cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := td.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Room for every line expected, so the reader never blocks.
	lines := make(chan string, 1+len(images))
	go func() {
		for sc := bufio.NewScanner(out); sc.Scan(); {
			select {
			case lines <- sc.Text():
			default:
			}
		}
		close(lines)
		td.Cmd.Wait()
		close(td.exited)
	}()
	t.Cleanup(func() { td.Cmd.Process.Kill(); <-td.exited })
	for i := range 1 + len(images) {
		var line string
		var ok bool
		select {
		case line, ok = <-lines:
		case <-time.After(waitTimeout):
		}
		if !ok {
			td.Cmd.Process.Kill()
			<-td.exited
			t.Fatalf("tapdisk %v printed %d lines, then exited or hung:\n%s", images, i, stderr.String())
		}
		if i == 0 {
			td.Ctl = line
		} else {
			td.URIs = append(td.URIs, line)
		}
	}
	return td
}

// Kill kills the tapdisk with SIGKILL, as a crash would, and reaps it.
func (td *Tapdisk) Kill(t *testing.T) {
	t.Helper()
	if err := td.Cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-td.exited
}

// Stop asks the tapdisk to exit (SIGTERM) and returns its exit status.
func (td *Tapdisk) Stop(t *testing.T) int {
	t.Helper()
	if err := td.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-td.exited:
		return td.Cmd.ProcessState.ExitCode()
	case <-time.After(waitTimeout):
		t.Fatalf("tapdisk %d still running %v after SIGTERM", td.Cmd.Process.Pid, waitTimeout)
		return -1
	}
}
