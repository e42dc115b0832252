package main

// Messages the model sends itself from its commands.

// tickMsg: time to poll again.
type tickMsg struct{}

// polledMsg carries a poll's snapshot.
type polledMsg struct {
	snap snapshot
	err  error
}

// chainMsg carries the image chain of the VBD opened in the detail view.
type chainMsg struct {
	id     vbdID
	layers []layer
	err    error
}

// doneMsg carries an action's outcome.
type doneMsg struct {
	text string
	err  error
}
