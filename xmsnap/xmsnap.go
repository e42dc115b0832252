package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/alecthomas/kong"
	clikit "gotap.dev/libtap/cli"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/livesnap"
	"gotap.dev/libtap/rundir"
	"gotap.dev/libtap/tapscan"
)

// Exit statuses; doc.go documents them.
const (
	exitOK     = 0
	exitFail   = 1 // nothing done, or done in part (the message says which); the disk serves
	exitUsage  = 2
	exitPaused = 3 // failed, and the disk stays paused
)

// cli is xmsnap's command line: a snapshot unless another command is
// named, so that blktap's `xmsnap DISK` works as it did.
type cli struct {
	RunDir   string      `name:"run-dir" placeholder:"DIR" help:"Run directory of the tapdisks (default: $BLKTAP_RUN_DIR, else /run/blktap-control for root, else $XDG_RUNTIME_DIR/blktap-control)."`
	JSON     bool        `name:"json" help:"Print the result as one JSON document."`
	Snapshot snapshotCmd `cmd:"" default:"withargs" help:"Take a live snapshot (the default command): prints the new leaf."`
	Coalesce coalesceCmd `cmd:"" help:"Shrink the chain while the disk serves: merge its layers into the base, relink in one short pause."`
	Grow     growCmd     `cmd:"" help:"Grow the disk while it serves: pause, fast resize of the leaf, resume."`
}

// diskArg is the DISK every command takes.
type diskArg struct {
	Disk string `arg:"" name:"DISK" help:"The disk: its minor (3), the image it serves (vhd:/srv/a.vhd), or that image's path."`
}

const description = `Live operations on a disk a tapdisk serves, each with at most a short pause the frontends see as a stall, never as an error. "xmsnap DISK" takes a snapshot, as blktap's xmsnap did. Exit status: 0 done, 1 failed (the disk serving), 2 bad command line, 3 failed and the disk stays paused.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c cli
	kctx, err := clikit.Parse("xmsnap", description, &c, args, stdout, stderr,
		kong.BindTo(ctx, (*context.Context)(nil)),
	)
	switch {
	case errors.Is(err, clikit.ErrHelp):
		return exitOK
	case err != nil:
		clikit.PrintUsage(stderr, "xmsnap", err)
		return exitUsage
	}
	res, err := call(kctx, &c)
	switch {
	case errors.Is(err, clikit.ErrUsage):
		clikit.PrintUsage(stderr, "xmsnap", err)
		return exitUsage
	case errors.Is(err, livesnap.ErrStillPaused):
		fmt.Fprintf(stderr, "xmsnap: %v\n", err)
		return exitPaused
	case err != nil:
		fmt.Fprintf(stderr, "xmsnap: %v\n", err)
		return exitFail
	case c.JSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res.value)
	default:
		fmt.Fprint(stdout, res.text)
	}
	return exitOK
}

// result is a command's outcome: a value for --json, lines otherwise.
type result struct {
	value any
	text  string
}

// call runs the chosen command, which reports through its result.
func call(kctx *kong.Context, c *cli) (result, error) {
	var res result
	kctx.Bind(c, &res)
	err := kctx.Run()
	return res, err
}

// connect finds the tapdisk serving the disk and dials its control socket.
func (c *cli) connect(ctx context.Context, d diskArg) (*control.Client, int, error) {
	dir, err := rundir.Resolve(c.RunDir)
	if err != nil {
		return nil, 0, err
	}
	pid, minor, err := find(ctx, dir, d.Disk)
	if err != nil {
		return nil, 0, err
	}
	client, err := control.Dial(dir.Ctl(pid))
	if err == nil {
		// A tapdisk killed a moment ago may still take a connection, and
		// then cut it: ask it something first.
		if _, err = client.Pid(ctx); err != nil {
			client.Disconnect()
		}
	}
	switch {
	case err == nil:
		return client, minor, nil
	case tapscan.Died(err, pid):
		return nil, 0, deadErr(pid, minor)
	}
	return nil, 0, err
}
