package main

import (
	"github.com/charmbracelet/bubbles/key"
	tea "github.com/charmbracelet/bubbletea"
)

func (m model) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.width, m.height = msg.Width, msg.Height
	case tickMsg:
		return m, m.poll
	case polledMsg:
		if msg.err != nil {
			m.setStatus("", msg.err)
		} else {
			m.rows = m.track.apply(msg.snap)
			m.refresh()
		}
		return m, m.tick()
	case chainMsg:
		m.detail.setChain(msg)
	case doneMsg:
		m.setStatus(msg.text, msg.err)
	case tea.KeyMsg:
		return m.key(msg)
	}
	return m, nil
}

// key hands a key to the pane that has the keyboard.
func (m model) key(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch m.state {
	case stateHelp:
		if key.Matches(msg, m.keys.Quit) {
			return m, tea.Quit
		}
		m.state = m.back
		return m, nil
	case stateConfirm:
		return m.answer(msg)
	case stateFilter:
		return m.typeFilter(msg)
	}
	switch {
	case key.Matches(msg, m.keys.Quit):
		return m, tea.Quit
	case key.Matches(msg, m.keys.Help):
		m.state, m.back = stateHelp, m.state
	case key.Matches(msg, m.keys.Pause):
		m.ask(actPause)
	case key.Matches(msg, m.keys.Resume):
		m.ask(actResume)
	case key.Matches(msg, m.keys.Snapshot):
		m.ask(actSnapshot)
	case m.state == stateDetail && key.Matches(msg, m.keys.Back):
		m.state = stateList
	case m.state == stateList:
		return m.listKey(msg)
	}
	return m, nil
}

func (m model) listKey(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.Up):
		m.list.move(-1)
	case key.Matches(msg, m.keys.Down):
		m.list.move(1)
	case key.Matches(msg, m.keys.Filter):
		m.state, m.back = stateFilter, stateList
		return m, m.filter.input.Focus()
	case key.Matches(msg, m.keys.Enter):
		if r, ok := m.list.selected(); ok {
			m.state = stateDetail
			return m, m.detail.open(r)
		}
	}
	return m, nil
}

// ask puts an action on the selected VBD to the user, if it is alive.
func (m *model) ask(a action) {
	r, ok := m.selected()
	switch {
	case !ok:
		m.setStatus("no VBD selected", nil)
	case r.Live != alive:
		m.setStatus("", errNotAlive(r))
	default:
		m.confirm = confirmModel{act: a, target: r}
		m.state, m.back = stateConfirm, m.state
	}
}

// answer takes y or n for the pending action; other keys are ignored.
func (m model) answer(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch {
	case key.Matches(msg, m.keys.Yes):
		m.state = m.back
		m.setStatus(m.confirm.act.verb()+"…", nil)
		return m, m.confirm.run(m.act)
	case key.Matches(msg, m.keys.No):
		m.state = m.back
		m.setStatus(m.confirm.act.verb()+" cancelled", nil)
	}
	return m, nil
}

// typeFilter edits the filter; the list follows as one types. Enter
// keeps it, esc clears it.
func (m model) typeFilter(msg tea.KeyMsg) (tea.Model, tea.Cmd) {
	switch msg.Type {
	case tea.KeyEnter:
		m.filter.input.Blur()
		m.state = stateList
		return m, nil
	case tea.KeyEsc:
		m.filter.input.Reset()
		m.filter.input.Blur()
		m.state = stateList
		m.refresh()
		return m, nil
	}
	var cmd tea.Cmd
	m.filter.input, cmd = m.filter.input.Update(msg)
	m.refresh()
	return m, cmd
}
