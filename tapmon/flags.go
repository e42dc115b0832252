package main

import (
	"io"
	"time"

	"gotap.dev/libtap/cli"
)

// flags are tapmon's command line; doc.go has the man page.
type flags struct {
	RunDir   string        `name:"run-dir" placeholder:"DIR" help:"Run directory holding the tapdisks' control sockets (default: $BLKTAP_RUN_DIR, else /run/blktap-control for root, else $XDG_RUNTIME_DIR/blktap-control)."`
	Interval time.Duration `short:"i" default:"1s" placeholder:"INTERVAL" help:"Time between snapshots; rates are over this interval."`
	Once     bool          `help:"Print the figures once, as a table, and exit: two snapshots INTERVAL apart."`
	JSON     bool          `name:"json" help:"With --once: print JSON instead of a table."`
}

const description = `Watch every tapdisk's I/O live: one row per VBD with its request and byte
rates, latency, requests in flight, retries and errors.

Keys: arrows or j/k move, enter shows a VBD's image chain and latency
histogram, p pauses, u resumes, s takes a live snapshot (each asks y/n
first), / filters, ? helps, q quits.`

// parse reads the command line: cli.ErrHelp once --help is printed, a
// cli.ErrUsage error for a refused one.
func parse(args []string, stdout, stderr io.Writer) (f flags, err error) {
	_, err = cli.Parse("tapmon", description, &f, args, stdout, stderr)
	switch {
	case err != nil:
		return f, err
	case f.Interval < 100*time.Millisecond:
		return f, cli.Usagef("--interval %v: want at least 100ms", f.Interval)
	case f.JSON && !f.Once:
		return f, cli.Usagef("--json goes with --once")
	}
	return f, nil
}
