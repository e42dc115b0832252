package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/charmbracelet/x/exp/golden"
	"github.com/charmbracelet/x/exp/teatest"
)

// polled is a model at width × height that has taken both fixture polls.
func polled(t *testing.T, width, height int) (model, *fakeActions) {
	t.Helper()
	acts := &fakeActions{}
	var m tea.Model = newModel(&fakeSource{snaps: twoPolls()}, acts, "/run/blktap-control", time.Second, plain())
	m, _ = m.Update(tea.WindowSizeMsg{Width: width, Height: height})
	for _, s := range twoPolls() {
		m, _ = m.Update(polledMsg{snap: s})
	}
	return m.(model), acts
}

// press sends keys to m, running the commands they return that finish
// at once (actions, not ticks), and returns the model.
func press(t *testing.T, m model, keys ...string) model {
	t.Helper()
	for _, k := range keys {
		var msg tea.KeyMsg
		switch k {
		case "enter":
			msg = tea.KeyMsg{Type: tea.KeyEnter}
		case "esc":
			msg = tea.KeyMsg{Type: tea.KeyEsc}
		case "down":
			msg = tea.KeyMsg{Type: tea.KeyDown}
		default:
			msg = tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(k)}
		}
		next, cmd := m.Update(msg)
		m = next.(model)
		if cmd != nil && (k == "y" || k == "enter") {
			next, _ = m.Update(cmd())
			m = next.(model)
		}
	}
	return m
}

func TestListView(t *testing.T) {
	for _, size := range []struct{ w, h int }{{80, 24}, {120, 30}} {
		t.Run(fmt.Sprintf("%dx%d", size.w, size.h), func(t *testing.T) {
			m, _ := polled(t, size.w, size.h)
			golden.RequireEqual(t, []byte(m.View()))
		})
	}
}

func TestDetailView(t *testing.T) {
	m, _ := polled(t, 80, 24)
	m = press(t, m, "down", "down", "enter") // minor 2: a VHD with an error
	m2, _ := m.Update(chainMsg{id: vbdID{4343, 2}, layers: []layer{
		{Kind: "vhd", Path: "/srv/images/guest-with-a-rather-long-name.vhd", Virtual: 64 << 20, File: 9 << 20, Allocated: 8 << 20},
		{Kind: "vhd", Path: "/srv/images/base.vhd", Virtual: 64 << 20, File: 40 << 20, Allocated: 38 << 20},
	}})
	golden.RequireEqual(t, []byte(m2.View()))
}

func TestHelpView(t *testing.T) {
	m, _ := polled(t, 80, 24)
	golden.RequireEqual(t, []byte(press(t, m, "?").View()))
}

func TestActionsAskFirst(t *testing.T) {
	tests := []struct {
		name  string
		keys  []string
		want  []string // actions carried out
		shown string   // on screen after
	}{
		{"pause confirmed", []string{"p", "y"}, []string{"pause 4242/0"}, "did pause 4242/0"},
		{"pause refused", []string{"p", "n"}, nil, "pause cancelled"},
		{"resume from detail", []string{"down", "enter", "u", "y"}, []string{"resume 4242/1"}, "did resume 4242/1"},
		{"snapshot", []string{"s", "x", "y"}, []string{"snapshot 4242/0"}, "did snapshot 4242/0"},
		{"dead tapdisk", []string{"down", "down", "down", "p"}, nil, "minor 5 of tapdisk 4444 is dead"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, acts := polled(t, 80, 24)
			m = press(t, m, tt.keys[:len(tt.keys)-1]...)
			if last := tt.keys[len(tt.keys)-1]; last == "y" || last == "n" {
				if !strings.Contains(m.View(), "? [y/n]") {
					t.Fatalf("after %v no prompt:\n%s", tt.keys, m.View())
				}
			}
			m = press(t, m, tt.keys[len(tt.keys)-1])
			if !slices.Equal(acts.done, tt.want) {
				t.Errorf("after %v actions = %q; want %q", tt.keys, acts.done, tt.want)
			}
			if !strings.Contains(m.View(), tt.shown) {
				t.Errorf("after %v screen lacks %q:\n%s", tt.keys, tt.shown, m.View())
			}
		})
	}
}

func TestFilter(t *testing.T) {
	m, _ := polled(t, 80, 24)
	m = press(t, m, "/", "v", "h", "d", "enter")
	if got := len(m.list.rows); got != 1 || m.list.rows[0].Minor != 2 {
		t.Errorf("filter vhd: rows = %+v; want minor 2 only", m.list.rows)
	}
	m = press(t, m, "/", "esc")
	if got := len(m.list.rows); got != 4 {
		t.Errorf("filter cleared: %d rows; want 4", got)
	}
}

// TestProgram runs the model in a real bubbletea program: it polls by
// itself, and q ends it.
func TestProgram(t *testing.T) {
	m := newModel(&fakeSource{snaps: twoPolls()}, &fakeActions{}, "/run/blktap-control", 50*time.Millisecond, plain())
	tm := teatest.NewTestModel(t, m, teatest.WithInitialTermSize(80, 24))
	teatest.WaitFor(t, tm.Output(), func(b []byte) bool { return strings.Contains(string(b), "b.img") },
		teatest.WithDuration(5*time.Second))
	tm.Send(tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune("q")})
	tm.WaitFinished(t, teatest.WithFinalTimeout(5*time.Second))
}
