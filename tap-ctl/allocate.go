package main

import (
	"context"
	"fmt"
)

type allocateCmd struct {
	Minor *int `short:"m" placeholder:"MINOR" help:"This minor (default: the lowest free)."`
}

func (a *allocateCmd) Run(e *env) error {
	want := -1
	if a.Minor != nil {
		want = *a.Minor
	}
	minor, err := e.dir.Allocate(want)
	if err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, minor)
	return nil
}

type freeCmd struct {
	Minor int `short:"m" required:"" placeholder:"MINOR" help:"The minor."`
}

func (f *freeCmd) Run(ctx context.Context, e *env) error {
	return free(ctx, e, f.Minor)
}
