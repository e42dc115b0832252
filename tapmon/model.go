package main

import (
	"context"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// pollTimeout bounds a whole poll; runDir bounds each tapdisk's answer
// more tightly.
const pollTimeout = 2 * time.Second

// model is the root: it owns the data (rows from the tracker) and
// delegates drawing and keys to one sub-model per pane.
type model struct {
	src      source
	act      actions
	dir      string // shown in the header
	interval time.Duration
	st       styles
	keys     keyMap

	track *tracker
	rows  []row // every row of the last poll, before filtering
	state state
	back  state // where help, confirm and filter return to

	list    listModel
	detail  detailModel
	confirm confirmModel
	filter  filterModel

	status        string // the outcome of the last action or poll
	failed        bool   // status is an error
	width, height int
}

func newModel(src source, act actions, dir string, interval time.Duration, st styles) model {
	return model{
		src: src, act: act, dir: dir, interval: interval, st: st, keys: newKeyMap(),
		track: newTracker(), filter: newFilter(), width: 80, height: 24,
	}
}

// Init polls at once; each poll's answer schedules the next tick, so
// polls never overlap however slow a tapdisk is.
func (m model) Init() tea.Cmd { return m.poll }

func (m model) poll() tea.Msg {
	ctx, cancel := context.WithTimeout(context.Background(), pollTimeout)
	defer cancel()
	s, err := m.src.Poll(ctx)
	return polledMsg{snap: s, err: err}
}

func (m model) tick() tea.Cmd {
	return tea.Tick(m.interval, func(time.Time) tea.Msg { return tickMsg{} })
}

// refresh shows the rows through the filter.
func (m *model) refresh() {
	m.list.setRows(m.filter.apply(m.rows))
}

// selected is the row the keys act on: the detail view's VBD or the
// list's cursor.
func (m model) selected() (row, bool) {
	if m.state == stateDetail {
		for _, r := range m.rows {
			if r.vbdID == m.detail.id {
				return r, true
			}
		}
		return row{vbdID: m.detail.id, Live: gone}, true
	}
	return m.list.selected()
}

func (m *model) setStatus(text string, err error) {
	m.status, m.failed = text, err != nil
	if err != nil {
		m.status = err.Error()
	}
}
