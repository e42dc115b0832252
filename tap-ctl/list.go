package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/tapscan"
)

type listCmd struct {
	Pid   *int   `short:"p" placeholder:"PID" help:"Only this tapdisk."`
	Minor *int   `short:"m" placeholder:"MINOR" help:"Only this minor."`
	Type  string `short:"t" placeholder:"TYPE" help:"Only images of this type (vhd, aio, ram, nbd)."`
	File  string `short:"f" placeholder:"PATH" help:"Only this image file."`
	JSON  bool   `name:"json" help:"Print a JSON array of rows instead."`
}

// row is one line of the listing; nil fields are unknown.
type row struct {
	Pid   *int        `json:"pid,omitempty"`
	Minor *int        `json:"minor,omitempty"`
	State *wire.State `json:"state,omitempty"`
	Type  string      `json:"type,omitempty"`
	File  string      `json:"file,omitempty"`
	// Device: its kernel block device (--frontend), if it has one.
	Device string `json:"device,omitempty"`
}

func (l *listCmd) Run(ctx context.Context, e *env) error {
	tds, err := tapscan.Scan(ctx, e.dir)
	if err != nil {
		return err
	}
	minors, err := e.dir.Minors()
	if err != nil {
		return err
	}
	rows := l.filter(rows(tds, minors))
	switch {
	case l.JSON:
		err = printJSON(e.stdout, rows)
	case isTerminal(e.stdout):
		err = printTable(e.stdout, rows)
	default:
		err = printLines(e.stdout, rows)
	}
	return errors.Join(err, unanswered(tds))
}

// unanswered is the failure of the tapdisks that are alive but did not
// answer (hung, or another user's): the listing shows what their
// markers say of them, and the exit status says it is incomplete.
func unanswered(tds []tapscan.Tapdisk) error {
	var errs []error
	for _, td := range tds {
		if td.Err == nil || td.Dead {
			continue
		}
		err := td.Err
		if errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("%w (%w)", syscall.ETIMEDOUT, err)
		}
		errs = append(errs, fmt.Errorf("tapdisk %d did not answer, its minors' state is unknown: %w", td.Pid, err))
	}
	return errors.Join(errs...)
}

// rows orders the listing as blktap does: VBDs, then tapdisks with no
// VBD, then allocated minors with no tapdisk. A live tapdisk that did not
// answer has a row, with no state, for each minor its markers give it.
func rows(tds []tapscan.Tapdisk, minors []rundir.Minor) []row {
	var vbds, idle, free []row
	shown := make(map[int]bool)
	for _, td := range tds {
		if td.Err != nil && !td.Dead {
			held := heldBy(td.Pid, minors)
			for _, m := range held {
				vbds = append(vbds, row{Pid: ptr(td.Pid), Minor: ptr(m)})
				shown[m] = true
			}
			if len(held) == 0 {
				idle = append(idle, row{Pid: ptr(td.Pid)})
			}
			continue
		}
		if len(td.VBDs) == 0 {
			r := row{Pid: ptr(td.Pid)}
			if td.Dead {
				r.State = ptr(wire.Dead)
			}
			idle = append(idle, r)
		}
		for _, v := range td.VBDs {
			typ, file, _ := strings.Cut(v.Image, ":")
			vbds = append(vbds, row{Pid: ptr(td.Pid), Minor: ptr(v.Minor), State: ptr(v.State), Type: typ, File: file, Device: v.Device})
			shown[v.Minor] = true
		}
	}
	for _, m := range minors {
		if !shown[m.N] {
			free = append(free, row{Minor: ptr(m.N)})
		}
	}
	return append(append(vbds, idle...), free...)
}

// heldBy are the minors whose markers a live tapdisk holds.
func heldBy(pid int, minors []rundir.Minor) []int {
	var held []int
	for _, m := range minors {
		if m.Held && m.Pid == pid {
			held = append(held, m.N)
		}
	}
	return held
}

func ptr[T any](v T) *T { return &v }

// filter keeps the rows matching every filter given.
func (l *listCmd) filter(rows []row) []row {
	kept := []row{} // [] in JSON when nothing matches
	for _, r := range rows {
		if l.Pid != nil && (r.Pid == nil || *r.Pid != *l.Pid) ||
			l.Minor != nil && (r.Minor == nil || *r.Minor != *l.Minor) ||
			l.Type != "" && r.Type != l.Type ||
			l.File != "" && r.File != l.File {
			continue
		}
		kept = append(kept, r)
	}
	return kept
}

// printTable is the listing for people: blktap's columns, and a device
// column before the file when a disk has a kernel block device.
func printTable(w io.Writer, rows []row) error {
	devices := slices.ContainsFunc(rows, func(r row) bool { return r.Device != "" })
	device := func(d string) string {
		if !devices {
			return ""
		}
		return fmt.Sprintf("%-12s ", d)
	}
	fmt.Fprintf(w, "%8s %4s %4s %10s %s%s\n", "pid", "minor", "state", "type", device("device"), "file")
	for _, r := range rows {
		state := "-"
		if r.State != nil {
			state = cHex(uint32(*r.State))
		}
		if _, err := fmt.Fprintf(w, "%8s %4s %4s %10s %s%s\n", orDash(r.Pid), orDash(r.Minor), state, dash(r.Type), device(dash(r.Device)), dash(r.File)); err != nil {
			return err
		}
	}
	return nil
}

func orDash(n *int) string {
	if n == nil {
		return "-"
	}
	return fmt.Sprint(*n)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printLines is the listing for scripts: key=value fields, unknown ones
// left out.
func printLines(w io.Writer, rows []row) error {
	for _, r := range rows {
		var f []string
		if r.Pid != nil {
			f = append(f, fmt.Sprintf("pid=%d", *r.Pid))
		}
		if r.Minor != nil {
			f = append(f, fmt.Sprintf("minor=%d", *r.Minor))
		}
		if r.State != nil {
			f = append(f, "state="+cHex(uint32(*r.State)))
		}
		if r.Type != "" {
			f = append(f, "args="+r.Type+":"+r.File)
		}
		if r.Device != "" {
			f = append(f, "device="+r.Device)
		}
		if _, err := fmt.Fprintln(w, strings.Join(f, " ")); err != nil {
			return err
		}
	}
	return nil
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// isTerminal: is w a terminal (blktap's test for the table)?
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// cHex prints n as C's %#x does, which blktap's list uses and scripts
// parse: 0 is "0", not "0x0".
func cHex(n uint32) string {
	if n == 0 {
		return "0"
	}
	return fmt.Sprintf("%#x", n)
}
