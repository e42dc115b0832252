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
	"syscall"
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

// Create makes the directory and its tapdisk/ subdirectory, mode 0700:
// only their owner (root, for /run/blktap-control) reaches the sockets
// and markers in them. Another user could otherwise connect to a socket
// whose mode was loosened, or flock a marker to make its minor look
// taken. Every program that uses the directory runs as its owner: the
// control socket refuses other users anyway.
//
// A directory already there must be its user's and writable by nobody
// else (who could replace the sockets in it), or it is refused with
// EPERM. tapdisk/ is ours and is tightened to 0700 if it is looser (an
// older gotap made it 0755), and so is a directory named blktap-control,
// the default's name; a directory named otherwise (--run-dir /srv/x) is
// left as its owner made it.
func (d Dir) Create() error {
	markers := filepath.Join(string(d), "tapdisk")
	if err := os.MkdirAll(markers, 0o700); err != nil {
		return fmt.Errorf("create run directory: %w", err)
	}
	if err := checkDir(string(d), filepath.Base(string(d)) == defaultName); err != nil {
		return err
	}
	return checkDir(markers, true)
}

// defaultName is the run directory's name wherever it is by default.
const defaultName = "blktap-control"

// checkDir refuses a directory of another user, or one that others may
// write; tighten also takes away every access of others.
func checkDir(path string, tighten bool) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("run directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.IsDir():
		return fmt.Errorf("run directory %s: not a directory: %w", path, syscall.ENOTDIR)
	case ok && int(st.Uid) != os.Geteuid():
		return fmt.Errorf("run directory %s belongs to uid %d, not to us (uid %d), who could replace its sockets: %w",
			path, st.Uid, os.Geteuid(), syscall.EPERM)
	case tighten && fi.Mode().Perm()&0o077 != 0:
		if err := os.Chmod(path, 0o700); err != nil {
			return fmt.Errorf("run directory: %w", err)
		}
	case fi.Mode().Perm()&0o022 != 0:
		return fmt.Errorf("run directory %s is writable by others (mode %v), who could replace its sockets: %w",
			path, fi.Mode().Perm(), syscall.EPERM)
	}
	return nil
}
