package main

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/alecthomas/kong"
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

// errUsage marks a command line refused before anything started.
var errUsage = errors.New("usage")

// parse reads the command line. help is true when --help was answered
// (kong printed it); the caller then exits 0.
func parse(args []string, stdout, stderr io.Writer) (f flags, help bool, err error) {
	parser, err := kong.New(&f,
		kong.Name("tapmon"),
		kong.Description(description),
		kong.Writers(stdout, stderr),
		// Record kong's exit after --help instead of exiting, so run
		// returns and tests can call it.
		kong.Exit(func(int) { help = true }),
	)
	if err != nil {
		panic(err) // the flags struct itself is wrong: a programmer error
	}
	_, err = parser.Parse(args)
	switch {
	case help:
		return f, true, nil
	case err != nil:
		return f, false, fmt.Errorf("%w: %w", errUsage, err)
	case f.Interval < 100*time.Millisecond:
		return f, false, fmt.Errorf("%w: --interval %v: want at least 100ms", errUsage, f.Interval)
	case f.JSON && !f.Once:
		return f, false, fmt.Errorf("%w: --json goes with --once", errUsage)
	}
	return f, false, nil
}
