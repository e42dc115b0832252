package rundir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"
	"strings"
)

// Ctl is one control socket found in the run directory.
type Ctl struct {
	Pid  int
	Path string
}

// List returns the control sockets in the directory, by pid. A missing
// directory holds none. A socket left behind by a tapdisk that died is
// listed too: whoever connects finds out.
func (d Dir) List() ([]Ctl, error) {
	entries, err := os.ReadDir(string(d))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list run directory: %w", err)
	}
	var ctls []Ctl
	for _, e := range entries {
		pid, ok := ctlPid(e.Name())
		if !ok || e.Type()&fs.ModeSocket == 0 {
			continue
		}
		ctls = append(ctls, Ctl{Pid: pid, Path: d.Ctl(pid)})
	}
	slices.SortFunc(ctls, func(a, b Ctl) int { return a.Pid - b.Pid })
	return ctls, nil
}

// ctlPid parses "ctl<pid>".
func ctlPid(name string) (int, bool) {
	pid, ok := numberAfter(name, "ctl")
	return pid, ok && pid > 0
}

// numberAfter parses the decimal number that is all of name after
// prefix, as the run directory's file names are made.
func numberAfter(name, prefix string) (int, bool) {
	digits, ok := strings.CutPrefix(name, prefix)
	if !ok || digits == "" || strings.TrimLeft(digits, "0123456789") != "" {
		return 0, false
	}
	n, err := strconv.Atoi(digits)
	return n, err == nil
}
