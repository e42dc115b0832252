package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/tapscan"
)

// find is the tapdisk and minor serving the disk named: a minor, a
// type:path, or the path of the image served.
func find(ctx context.Context, dir rundir.Dir, name string) (pid, minor int, err error) {
	if n, err := strconv.Atoi(name); err == nil {
		return findMinor(dir, n)
	}
	tds, err := tapscan.Scan(ctx, dir)
	if err != nil {
		return 0, 0, err
	}
	match := samePath(name)
	if c, err := disk.ParseChain(name); err == nil {
		match = func(v wire.Info) bool { return v.Image == c.String() || samePath(c.Image.Path)(v) }
	}
	for _, td := range tds {
		for _, v := range td.VBDs {
			if !td.Dead && match(v) {
				return td.Pid, v.Minor, nil
			}
		}
	}
	return 0, 0, fmt.Errorf("no tapdisk serves %s: %w", name, syscall.ENOENT)
}

// findMinor is the tapdisk holding minor n, as its marker names it (the
// lock on the marker says whether that tapdisk lives; tap-ctl finds a
// minor's tapdisk the same way).
func findMinor(dir rundir.Dir, n int) (pid, minor int, err error) {
	m, err := dir.Holder(n)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return 0, n, fmt.Errorf("no tapdisk has minor %d: %w", n, syscall.ENOENT)
	case err != nil:
		return 0, n, err
	case m.Pid == 0:
		return 0, n, fmt.Errorf("minor %d is allocated but no tapdisk serves it: %w", n, syscall.ENOENT)
	case !m.Held:
		return m.Pid, n, deadErr(m.Pid, n)
	}
	return m.Pid, n, nil
}

func deadErr(pid, minor int) error {
	return fmt.Errorf("tapdisk %d serving minor %d is dead: %w", pid, minor, syscall.ECONNREFUSED)
}

// samePath matches a VBD whose image is the file at path, however named.
func samePath(path string) func(wire.Info) bool {
	want, err := os.Stat(path)
	return func(v wire.Info) bool {
		c, perr := disk.ParseChain(v.Image)
		if err != nil || perr != nil {
			return false
		}
		got, err := os.Stat(c.Image.Path)
		return err == nil && os.SameFile(want, got)
	}
}
