package main

import "context"

// action is what a key asks to be done to one VBD.
type action int

const (
	actPause action = iota
	actResume
	actSnapshot
)

// verb names an action in prompts.
func (a action) verb() string {
	return [...]string{"pause", "resume", "snapshot"}[a]
}

// actions carries out actions on a VBD: runDir for real, a recorder in
// tests. It returns what to tell the user on success.
type actions interface {
	Do(ctx context.Context, a action, k vbdID) (string, error)
}
