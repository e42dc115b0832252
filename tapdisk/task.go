package main

import (
	"errors"
	"fmt"
	"time"
)

// errStuck: a wait for a goroutine ran out of time.
var errStuck = errors.New("still running")

// task is a function running in a goroutine of its own. Its end is a
// closed channel rather than a value sent once, so it can be waited
// for from a select and again later: a second receive never blocks.
type task struct {
	name string
	done chan struct{}
	err  error // set before done is closed
}

// goTask starts fn.
func goTask(name string, fn func() error) *task {
	t := &task{name: name, done: make(chan struct{})}
	go func() {
		defer close(t.done)
		t.err = fn()
	}()
	return t
}

// wait returns fn's error once it has returned, or errStuck if it still
// runs after limit: shutdown goes on without it.
func (t *task) wait(limit time.Duration) error {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case <-t.done:
		return t.err
	case <-timer.C:
		return fmt.Errorf("%s: %w after %v", t.name, errStuck, limit)
	}
}
