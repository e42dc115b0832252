package main

import (
	"fmt"
	"strings"

	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/x/ansi"
)

// View is a header line, the pane, a status line and a key line, in
// exactly the terminal's height so nothing scrolls.
func (m model) View() string {
	body := m.height - 3
	var pane string
	switch m.state {
	case stateHelp:
		pane = helpView(m.st, m.keys, m.width)
	case stateDetail:
		r, _ := m.selected()
		pane = m.detail.view(m.st, r, m.width, body)
	case stateConfirm:
		if m.back == stateDetail {
			pane = m.detail.view(m.st, m.confirm.target, m.width, body)
		} else {
			pane = m.list.view(m.st, m.width, body)
		}
	default:
		pane = m.list.view(m.st, m.width, body)
	}
	lines := append([]string{m.header()}, fitLines(pane, body, m.width)...)
	return strings.Join(append(lines, m.statusLine(), m.keyLine()), "\n")
}

func (m model) header() string {
	tds := map[int]bool{}
	for _, r := range m.rows {
		tds[r.Pid] = true
	}
	text := fmt.Sprintf("tapmon · %s · %d tapdisks · %d VBDs · every %v", m.dir, len(tds), len(m.list.rows), m.interval)
	if f := m.filter.input.Value(); f != "" && m.state != stateFilter {
		text += " · filter " + f
	}
	return m.st.title.Render(pad(text, m.width, false))
}

func (m model) statusLine() string {
	switch {
	case m.state == stateConfirm:
		return m.st.warn.Render(m.confirm.prompt())
	case m.state == stateFilter:
		return m.filter.input.View()
	case m.failed:
		return m.st.bad.Render("error: " + m.status)
	}
	return m.st.status.Render(m.status)
}

func (m model) keyLine() string {
	h := help.New()
	h.Styles, h.Width = m.st.help, m.width
	return h.ShortHelpView(m.keys.ShortHelp())
}

// fitLines pads or cuts s to n lines, each cut to width: a line that
// wrapped would push the screen out of place.
func fitLines(s string, n, width int) []string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[:max(n, 0)]
	}
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, width, "…")
	}
	for len(lines) < n {
		lines = append(lines, "")
	}
	return lines
}
