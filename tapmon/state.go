package main

// state is which pane has the keyboard.
type state int

const (
	stateList    state = iota // the table of VBDs
	stateDetail               // one VBD: chain, histogram, errors
	stateHelp                 // every key
	stateConfirm              // an action waits for y/n
	stateFilter               // typing the list's filter
)
