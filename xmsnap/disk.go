package main

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"syscall"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/tapscan"
	"gotap.dev/libtap/vbd"
)

// find is the tapdisk and minor serving the disk named: a minor, a
// type:path, or the path of the image served.
func find(ctx context.Context, dir rundir.Dir, name string) (pid, minor int, err error) {
	tds, err := tapscan.Scan(ctx, dir)
	if err != nil {
		return 0, 0, err
	}
	if n, err := strconv.Atoi(name); err == nil {
		td, err := tapscan.FindMinor(tds, n)
		if err == nil && td.Dead {
			err = fmt.Errorf("tapdisk %d serving minor %d is dead: %w", td.Pid, n, syscall.ECONNREFUSED)
		}
		return td.Pid, n, err
	}
	match := samePath(name)
	if spec, err := disk.ParseSpec(name); err == nil {
		match = func(v vbd.Info) bool { return v.Image == spec.String() || samePath(spec.Path)(v) }
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

// samePath matches a VBD whose image is the file at path, however named.
func samePath(path string) func(vbd.Info) bool {
	want, err := os.Stat(path)
	return func(v vbd.Info) bool {
		spec, perr := disk.ParseSpec(v.Image)
		if err != nil || perr != nil {
			return false
		}
		got, err := os.Stat(spec.Path)
		return err == nil && os.SameFile(want, got)
	}
}
