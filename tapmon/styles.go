package main

import (
	"github.com/charmbracelet/bubbles/help"
	"github.com/charmbracelet/lipgloss"
)

// styles are every look tapmon has, from one renderer: its colour
// profile (none under NO_COLOR or off a terminal) applies to all. Nothing
// may depend on colour alone: the selected row also has a marker.
type styles struct {
	plain, title, header, selected, total lipgloss.Style
	dim, warn, bad, status                lipgloss.Style
	bar                                   lipgloss.Style
	help                                  help.Styles
}

func newStyles(r *lipgloss.Renderer) styles {
	dim := r.NewStyle().Foreground(lipgloss.AdaptiveColor{Light: "245", Dark: "243"})
	return styles{
		plain:    r.NewStyle(),
		title:    r.NewStyle().Bold(true).Foreground(lipgloss.Color("39")),
		header:   r.NewStyle().Bold(true).Underline(true),
		selected: r.NewStyle().Reverse(true),
		total:    r.NewStyle().Bold(true),
		dim:      dim,
		warn:     r.NewStyle().Foreground(lipgloss.Color("214")),
		bad:      r.NewStyle().Foreground(lipgloss.Color("196")).Bold(true),
		status:   r.NewStyle().Italic(true),
		bar:      r.NewStyle().Foreground(lipgloss.Color("42")),
		help: help.Styles{
			Ellipsis:       dim,
			ShortKey:       r.NewStyle().Bold(true),
			ShortDesc:      dim,
			ShortSeparator: dim,
			FullKey:        r.NewStyle().Bold(true),
			FullDesc:       dim,
			FullSeparator:  dim,
		},
	}
}
