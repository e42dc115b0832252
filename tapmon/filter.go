package main

import (
	"strconv"
	"strings"

	"github.com/charmbracelet/bubbles/cursor"
	"github.com/charmbracelet/bubbles/textinput"
)

// filterModel narrows the list to rows whose minor, pid, state or image
// contain the text typed after /.
type filterModel struct {
	input textinput.Model
}

func newFilter() filterModel {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = "minor, pid, state or path"
	// A blinking cursor would redraw twice a second: costly over a slow link.
	in.Cursor.SetMode(cursor.CursorStatic)
	return filterModel{input: in}
}

func (f filterModel) apply(rows []row) []row {
	text := strings.ToLower(strings.TrimSpace(f.input.Value()))
	if text == "" {
		return rows
	}
	var out []row
	for _, r := range rows {
		hay := strings.ToLower(strings.Join([]string{strconv.Itoa(r.Minor), strconv.Itoa(r.Pid), stateOf(r), r.Info.Image}, " "))
		if strings.Contains(hay, text) {
			out = append(out, r)
		}
	}
	return out
}
