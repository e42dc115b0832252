package main

import "github.com/charmbracelet/bubbles/key"

// keyMap is every key tapmon answers; it is also what ? shows.
type keyMap struct {
	Up, Down, Enter, Back   key.Binding
	Pause, Resume, Snapshot key.Binding
	Filter, Help, Quit      key.Binding
	Yes, No                 key.Binding
}

func newKeyMap() keyMap {
	return keyMap{
		Up:       key.NewBinding(key.WithKeys("up", "k"), key.WithHelp("↑/k", "up")),
		Down:     key.NewBinding(key.WithKeys("down", "j"), key.WithHelp("↓/j", "down")),
		Enter:    key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "detail")),
		Back:     key.NewBinding(key.WithKeys("esc", "backspace"), key.WithHelp("esc", "back")),
		Pause:    key.NewBinding(key.WithKeys("p"), key.WithHelp("p", "pause")),
		Resume:   key.NewBinding(key.WithKeys("u"), key.WithHelp("u", "unpause")),
		Snapshot: key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "snapshot")),
		Filter:   key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Help:     key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Quit:     key.NewBinding(key.WithKeys("q", "ctrl+c"), key.WithHelp("q", "quit")),
		Yes:      key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "confirm")),
		No:       key.NewBinding(key.WithKeys("n", "N", "esc"), key.WithHelp("n", "cancel")),
	}
}

// ShortHelp is the footer's reminder.
func (k keyMap) ShortHelp() []key.Binding {
	return []key.Binding{k.Enter, k.Pause, k.Resume, k.Snapshot, k.Filter, k.Help, k.Quit}
}

// FullHelp is the help pane, in columns.
func (k keyMap) FullHelp() [][]key.Binding {
	return [][]key.Binding{
		{k.Up, k.Down, k.Enter, k.Back},
		{k.Pause, k.Resume, k.Snapshot},
		{k.Filter, k.Help, k.Quit},
	}
}
