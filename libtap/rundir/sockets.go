package rundir

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"slices"
	"strconv"
	"syscall"
)

// NBDMinors lists the minors that have an NBD socket of the tapdisk with
// this pid: what a tapdisk that died was serving.
func (d Dir) NBDMinors(pid int) ([]int, error) {
	entries, err := os.ReadDir(string(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list run directory: %w", err)
	}
	prefix := "nbd" + strconv.Itoa(pid) + "."
	var minors []int
	for _, e := range entries {
		if n, ok := numberAfter(e.Name(), prefix); ok && n < MaxMinors && e.Type()&fs.ModeSocket != 0 {
			minors = append(minors, n)
		}
	}
	slices.Sort(minors)
	return minors, nil
}

// removeDeadCtl removes the control socket of a tapdisk that died, once
// nothing else of it is left: no NBD socket, no marker naming it. A
// socket that takes connections is kept: a new tapdisk was given the
// dead one's pid.
func (d Dir) removeDeadCtl(pid int) error {
	left, err := d.NBDMinors(pid)
	if err != nil || len(left) > 0 {
		return err
	}
	minors, err := d.Minors()
	if err != nil {
		return err
	}
	if slices.ContainsFunc(minors, func(m Minor) bool { return m.Pid == pid }) {
		return nil
	}
	conn, err := net.Dial("unix", d.Ctl(pid))
	if err == nil {
		return conn.Close()
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return nil // gone already, or not provably dead: kept
	}
	return removeIfThere(d.Ctl(pid))
}

// removeIfThere removes path; its absence is no error.
func removeIfThere(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
