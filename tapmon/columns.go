package main

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"
	"gotap.dev/libtap/control/wire"
)

// column is one column of the VBD table, shared by the live list and
// --once, so both print the same figures the same way.
type column struct {
	title string
	width int
	right bool
	// keep orders the columns to drop when the terminal is too narrow:
	// the lowest goes first.
	keep int
	cell func(r row) string
}

// minImage is the least room the IMAGE column gets before other columns
// are dropped for it.
const minImage = 12

var (
	colMinor = column{"MINOR", 5, true, 9, func(r row) string {
		if r.total || r.Minor < 0 {
			return "-"
		}
		return strconv.Itoa(r.Minor)
	}}
	colPid = column{"PID", 7, true, 4, func(r row) string {
		if r.total {
			return "-"
		}
		return strconv.Itoa(r.Pid)
	}}
	colState  = column{"STATE", 7, false, 9, stateOf}
	colRIOPS  = column{"R IOPS", 6, true, 8, func(r row) string { return count(r.Rate.ReadIOPS) }}
	colWIOPS  = column{"W IOPS", 6, true, 8, func(r row) string { return count(r.Rate.WriteIOPS) }}
	colRMiBs  = column{"R MiB/s", 7, true, 7, func(r row) string { return mibs(r.Rate.ReadMiBs) }}
	colWMiBs  = column{"W MiB/s", 7, true, 7, func(r row) string { return mibs(r.Rate.WriteMiBs) }}
	colP50    = column{"P50", 6, true, 3, func(r row) string { return micros(r.Rate.P50US) }}
	colP99    = column{"P99", 6, true, 6, func(r row) string { return micros(r.Rate.P99US) }}
	colInFl   = column{"INFL", 4, true, 2, func(r row) string { return strconv.FormatInt(r.Info.Stats.InFlight, 10) }}
	colRetry  = column{"RETRY", 5, true, 1, func(r row) string { return count(float64(r.Info.Stats.Retries)) }}
	colErrors = column{"ERR", 4, true, 5, func(r row) string { return count(float64(r.Info.Stats.Errors)) }}
	colTrend  = column{"TREND", 8, false, 4, func(r row) string { return sparkline(r.Trend, 8) }}
	// colImage is last and takes the room left: paths are long.
	colImage = column{"IMAGE", 0, false, 10, imageOf}
)

// figures are the columns both views print; the live list adds a trend.
var figures = []column{colMinor, colPid, colState, colRIOPS, colWIOPS, colRMiBs, colWMiBs, colP50, colP99, colInFl, colRetry, colErrors}

// fit picks the columns that fit in width, in order, the image last
// with the width left over.
func fit(cols []column, width int) []column {
	out := append([]column(nil), cols...)
	for used(out)+minImage > width {
		drop := 0
		for i, c := range out {
			if c.keep < out[drop].keep {
				drop = i
			}
		}
		if out[drop].keep >= colMinor.keep {
			break // never drop the minor or the state
		}
		out = append(out[:drop], out[drop+1:]...)
	}
	img := colImage
	img.width = max(width-used(out), 1)
	return append(out, img)
}

// used is the width of cols with one space after each.
func used(cols []column) int {
	n := 0
	for _, c := range cols {
		n += c.width + 1
	}
	return n
}

// line lays out one row (or the titles, when titles is set) in cols.
func line(cols []column, r row, titles bool) string {
	var b strings.Builder
	for i, c := range cols {
		s := c.title
		if !titles {
			s = c.cell(r)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(pad(s, c.width, c.right))
	}
	return b.String()
}

// pad fits s in width cells, cutting a long value at its start (paths
// say most at their end). Width 0 leaves s whole: the image in --once.
func pad(s string, width int, right bool) string {
	w := ansi.StringWidth(s)
	if width == 0 {
		return s
	}
	if w > width {
		return "…" + ansi.TruncateLeft(s, w-width+1, "")
	}
	if right {
		return strings.Repeat(" ", width-w) + s
	}
	return s + strings.Repeat(" ", width-w)
}

// stateOf is a row's state in a word.
func stateOf(r row) string {
	switch {
	case r.total:
		return "total"
	case r.Live == dead:
		return "dead"
	case r.Live == hung:
		return "hung"
	case r.Live == gone:
		return "gone"
	}
	switch s := r.Info.State; {
	case s&wire.ResumeFailed != 0:
		return "failed"
	case s&wire.Paused != 0:
		return "paused"
	case s&wire.PauseRequested != 0:
		return "pausing"
	case s&wire.Closed != 0:
		return "closed"
	}
	return "running"
}

// imageOf is the row's type:path.
func imageOf(r row) string {
	switch {
	case r.total:
		return strconv.Itoa(r.vbds) + " live"
	case r.Info.Image == "":
		return "-"
	}
	return r.Info.Image
}
