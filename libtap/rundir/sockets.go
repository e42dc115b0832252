package rundir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
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

// RemoveStale removes what a dead tapdisk left of minor: its NBD socket,
// and its control socket once no NBD socket of it is left. The caller
// must know the tapdisk is dead: a live one would lose its sockets.
func (d Dir) RemoveStale(pid, minor int) error {
	if err := removeIfThere(d.NBD(pid, minor)); err != nil {
		return err
	}
	left, err := d.NBDMinors(pid)
	if err != nil || len(left) > 0 {
		return err
	}
	return removeIfThere(d.Ctl(pid))
}

func removeIfThere(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove stale socket: %w", err)
	}
	return nil
}
