package main

import "fmt"

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
	// blktap prints the minor's marker path; scripts take the minor from
	// its end (XenServer's storage manager: tapdisk-(\d+)$).
	_, err = fmt.Fprintln(e.stdout, e.dir.Marker(minor))
	return err
}

type freeCmd struct {
	Minor int `short:"m" required:"" placeholder:"MINOR" help:"The minor."`
}

// Run releases the minor, and what a tapdisk that died holding it left
// (rundir.Free): a live tapdisk's minor is refused with EBUSY.
func (f *freeCmd) Run(e *env) error {
	return e.dir.Free(f.Minor)
}
