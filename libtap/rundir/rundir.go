// Package rundir names the files of blktap's run directory: control
// sockets `ctl<pid>`, NBD sockets `nbd<pid>.<minor>` and minor markers
// `tapdisk/tapdisk-<minor>`. tap-ctl finds tapdisks by listing the
// control sockets, so every program must agree on these names.
package rundir

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
)

// Env overrides the default run directory (a flag overrides Env).
const Env = "BLKTAP_RUN_DIR"

// System is root's run directory (blktap2 used /var/run/blktap-control).
const System = "/run/blktap-control"

// MaxMinors bounds minor numbers, as blktap's minor markers do.
const MaxMinors = 16384

// ErrNoRuntimeDir: a user other than root has no XDG_RUNTIME_DIR and
// named no run directory.
var ErrNoRuntimeDir = errors.New("XDG_RUNTIME_DIR is not set: name a run directory with --run-dir or " + Env)

// Dir is a run directory.
type Dir string

// Resolve picks the run directory: flag if not empty, else $BLKTAP_RUN_DIR,
// else /run/blktap-control for root and $XDG_RUNTIME_DIR/blktap-control
// for anyone else (who cannot write to /run).
func Resolve(flag string) (Dir, error) {
	if flag != "" {
		return Dir(flag), nil
	}
	if env := os.Getenv(Env); env != "" {
		return Dir(env), nil
	}
	if os.Geteuid() == 0 {
		return System, nil
	}
	xdg := os.Getenv("XDG_RUNTIME_DIR")
	if xdg == "" {
		return "", ErrNoRuntimeDir
	}
	return Dir(filepath.Join(xdg, "blktap-control")), nil
}

// Ctl is the control socket of the tapdisk with this pid.
func (d Dir) Ctl(pid int) string { return filepath.Join(string(d), "ctl"+strconv.Itoa(pid)) }

// NBD is the NBD socket of one minor served by the tapdisk with this pid.
func (d Dir) NBD(pid, minor int) string {
	return filepath.Join(string(d), fmt.Sprintf("nbd%d.%d", pid, minor))
}

// Marker is the file that records the allocation of a minor.
func (d Dir) Marker(minor int) string {
	return filepath.Join(string(d), "tapdisk", "tapdisk-"+strconv.Itoa(minor))
}

// Create makes the directory and its tapdisk/ subdirectory. The sockets
// in it carry their own 0600 mode, so the directory itself may be
// listed by anyone (tap-ctl list as another user shows the pids).
func (d Dir) Create() error {
	if err := os.MkdirAll(filepath.Join(string(d), "tapdisk"), 0o755); err != nil {
		return fmt.Errorf("create run directory: %w", err)
	}
	return nil
}
