package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"gotap.dev/libtap/rundir"
)

type spawnCmd struct {
	LogFile string `placeholder:"FILE" help:"The tapdisk logs to FILE (default: nowhere)."`
}

func (s *spawnCmd) Run(e *env) error {
	td, err := spawn(e.dir, s.LogFile)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, td.Process.Pid)
	return nil
}

// spawnTimeout bounds the wait for a new tapdisk's control socket.
const spawnTimeout = 10 * time.Second

// spawn starts a tapdisk without images (so it exits after its last
// minor is detached), in a session of its own so that it outlives
// tap-ctl and a terminal's ^C, and returns once it answers on its
// control socket.
func spawn(dir rundir.Dir, logFile string) (*exec.Cmd, error) {
	bin, err := tapdiskPath()
	if err != nil {
		return nil, err
	}
	args := []string{"--run-dir", string(dir)}
	if logFile != "" {
		args = append(args, "--log-file", logFile)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("spawn: %w", err)
	}
	defer r.Close()
	cmd := exec.Command(bin, args...)
	// Stderr stays nil (/dev/null): an inherited pipe would keep whoever
	// reads tap-ctl's output waiting for the tapdisk to exit.
	cmd.Stdout = w
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return nil, fmt.Errorf("spawn %s: %w", bin, err)
	}
	// The first line is the control socket's path, printed once it
	// answers; nothing else is written for a tapdisk without images.
	r.SetReadDeadline(time.Now().Add(spawnTimeout))
	if _, err := bufio.NewReader(r).ReadString('\n'); err != nil {
		return nil, errors.Join(fmt.Errorf("spawn %s: no control socket: %w", bin, err), stop(cmd))
	}
	return cmd, nil
}

// tapdiskPath finds the tapdisk binary: the one installed beside tap-ctl,
// else the first on $PATH.
func tapdiskPath() (string, error) {
	if self, err := os.Executable(); err == nil {
		beside := filepath.Join(filepath.Dir(self), "tapdisk")
		if _, err := os.Stat(beside); err == nil {
			return beside, nil
		}
	}
	p, err := exec.LookPath("tapdisk")
	if err != nil {
		return "", fmt.Errorf("spawn: %w", err)
	}
	return p, nil
}

// stop ends a tapdisk this process started, and reaps it.
func stop(cmd *exec.Cmd) error {
	cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
		return nil
	case <-time.After(spawnTimeout):
		cmd.Process.Kill()
		<-done
		return fmt.Errorf("tapdisk %d ignored SIGTERM: killed", cmd.Process.Pid)
	}
}
