package main

import (
	"strings"

	"github.com/charmbracelet/lipgloss"
)

// gutter marks the selected row without colour (NO_COLOR, dumb
// terminals): "> " before it, two spaces before the others.
const gutter = 2

// listModel is the table of VBDs with a cursor. The cursor follows its
// VBD (by id) as rows come and go.
type listModel struct {
	rows   []row
	cursor int
	top    int // first row on screen, when there are more than fit
}

// setRows replaces the rows, keeping the selected VBD selected.
func (l *listModel) setRows(rows []row) {
	if sel, ok := l.selected(); ok {
		for i, r := range rows {
			if r.vbdID == sel.vbdID {
				l.cursor = i
			}
		}
	}
	l.rows = rows
	l.cursor = max(min(l.cursor, len(rows)-1), 0)
}

func (l *listModel) move(d int) {
	l.cursor = max(min(l.cursor+d, len(l.rows)-1), 0)
}

func (l listModel) selected() (row, bool) {
	if l.cursor >= len(l.rows) {
		return row{}, false
	}
	return l.rows[l.cursor], true
}

// view draws the table in width × height: titles, rows, totals.
func (l *listModel) view(st styles, width, height int) string {
	cols := fit([]column{colMinor, colPid, colState, colRIOPS, colWIOPS, colRMiBs, colWMiBs, colP50, colP99, colInFl, colRetry, colErrors, colLimit, colTrend}, width-gutter)
	lines := []string{st.header.Render(strings.Repeat(" ", gutter) + line(cols, row{}, true))}
	fits := max(height-2, 1)
	l.top = max(min(l.top, l.cursor), l.cursor-fits+1)
	for i := l.top; i < len(l.rows) && i < l.top+fits; i++ {
		r := l.rows[i]
		text := line(cols, r, false)
		if i == l.cursor {
			lines = append(lines, st.selected.Render("> "+text))
			continue
		}
		lines = append(lines, "  "+rowStyle(st, r).Render(text))
	}
	if len(l.rows) == 0 {
		lines = append(lines, st.dim.Render("  no tapdisk VBDs found"))
	}
	for len(lines) < height-1 {
		lines = append(lines, "")
	}
	lines = append(lines, st.total.Render("  "+line(cols, totals(l.rows), false)))
	return strings.Join(lines, "\n")
}

// rowStyle tells dead, gone and paused rows apart at a glance (their
// STATE column says it in words too).
func rowStyle(st styles, r row) lipgloss.Style {
	switch stateOf(r) {
	case "dead", "hung", "failed":
		return st.bad
	case "gone", "closed":
		return st.dim
	case "paused", "pausing":
		return st.warn
	}
	return st.plain
}
