package main

import (
	"context"
	"fmt"
	"time"

	tea "github.com/charmbracelet/bubbletea"
)

// actionTimeout bounds an action: a pause waits for requests in flight,
// which tapdisk itself gives up on after its request timeout.
const actionTimeout = 2 * time.Minute

// confirmModel is an action waiting for y or n.
type confirmModel struct {
	act    action
	target row
}

func (c confirmModel) prompt() string {
	return fmt.Sprintf("%s minor %d of tapdisk %d (%s)? [y/n]", capital(c.act.verb()), c.target.Minor, c.target.Pid, imageOf(c.target))
}

// run is the command that carries the action out.
func (c confirmModel) run(act actions) tea.Cmd {
	return func() tea.Msg {
		ctx, cancel := context.WithTimeout(context.Background(), actionTimeout)
		defer cancel()
		text, err := act.Do(ctx, c.act, c.target.vbdID)
		return doneMsg{text: text, err: err}
	}
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
