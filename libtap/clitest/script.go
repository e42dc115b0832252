package clitest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"sync"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"gotap.dev/libtap/rundir"
)

// Scripts runs the testscript files (*.txtar) of dir, each in a folder
// of its own ($WORK) with the commands on PATH (Build) and a run
// directory of its own in $BLKTAP_RUN_DIR, so a script reads as the
// shell session it stands for. Beside testscript's commands a script has
//
//	exits CODE PROGRAM [ARGS...]
//
// which runs PROGRAM and fails unless it exits with status CODE (its
// stdout and stderr are then checked with stdout and stderr as after
// exec). The tapdisks a script leaves running are killed at its end,
// and fail the test.
func Scripts(t *testing.T, dir string) {
	bin := Build(t)
	var mu sync.Mutex
	var left []string
	t.Cleanup(func() {
		for _, l := range left {
			t.Error(l)
		}
	})
	testscript.Run(t, testscript.Params{
		Dir: dir,
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", bin+string(os.PathListSeparator)+env.Getenv("PATH"))
			run := rundir.Dir(filepath.Join(env.WorkDir, "run"))
			env.Setenv(rundir.Env, string(run))
			env.Defer(func() {
				pids, err := killRunning(run)
				if err != nil || len(pids) > 0 {
					mu.Lock()
					defer mu.Unlock()
					left = append(left, fmt.Sprintf("%s: tapdisks left running: %v %v", filepath.Base(env.WorkDir), pids, err))
				}
			})
			return nil
		},
		Cmds: map[string]func(*testscript.TestScript, bool, []string){"exits": exits},
	})
}

// exits is the script command `exits CODE PROGRAM [ARGS...]`.
func exits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("exits: code %q: %v", args[0], err)
	}
	got := 0
	var exit *exec.ExitError
	switch err := ts.Exec(args[1], args[2:]...); {
	case errors.As(err, &exit):
		got = exit.ExitCode()
	case err != nil:
		ts.Fatalf("%s: %v", args[1], err)
	}
	if got != want {
		ts.Fatalf("%s exited %d; want %d", args[1], got, want)
	}
}
