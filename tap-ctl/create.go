package main

import (
	"context"
	"errors"
	"fmt"
)

type createCmd struct {
	imageFlags
	LogFile string `placeholder:"FILE" help:"The tapdisk logs to FILE (default: nowhere)."`
}

// Run is allocate + spawn + attach + open; when a step fails, the steps
// taken are undone in reverse order, leaving nothing behind.
func (cr *createCmd) Run(ctx context.Context, e *env) (err error) {
	var undo undoStack
	defer func() {
		if err != nil {
			err = errors.Join(err, undo.run())
		}
	}()
	minor, err := e.dir.Allocate(-1)
	if err != nil {
		return err
	}
	undo.push(func() error { return e.dir.Free(minor) })
	req, err := cr.request(minor)
	if err != nil {
		return err
	}
	td, err := spawn(e.dir, cr.LogFile)
	if err != nil {
		return err
	}
	undo.push(func() error { return stop(td) })
	c, err := dialPid(e.dir, td.Process.Pid)
	if err != nil {
		return err
	}
	defer c.Disconnect()
	if err := c.Attach(ctx, minor); err != nil {
		return fmt.Errorf("attach: %w", err)
	}
	// Undoing the spawn ends the tapdisk, which drops the attachment.
	rep, err := c.Open(ctx, req)
	if err != nil {
		return fmt.Errorf("open: %w", err)
	}
	printOpened(e.stdout, rep)
	return nil
}

// undoStack holds the ways back from the steps taken so far.
type undoStack []func() error

func (u *undoStack) push(fn func() error) { *u = append(*u, fn) }

// run undoes every step, last first, and reports what could not be.
func (u undoStack) run() error {
	var errs []error
	for i := len(u) - 1; i >= 0; i-- {
		if err := u[i](); err != nil {
			errs = append(errs, fmt.Errorf("roll back: %w", err))
		}
	}
	return errors.Join(errs...)
}
