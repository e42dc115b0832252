package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	clikit "gotap.dev/libtap/cli"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/livesnap"
	"gotap.dev/libtap/rundir"
)

// Exit statuses; doc.go documents them.
const (
	exitOK     = 0
	exitFail   = 1 // no snapshot; the disk serves its original image
	exitUsage  = 2
	exitPaused = 3 // no snapshot, and the disk stays paused
)

// cli is xmsnap's command line.
type cli struct {
	RunDir string `name:"run-dir" placeholder:"DIR" help:"Run directory of the tapdisks (default: $BLKTAP_RUN_DIR, else /run/blktap-control for root, else $XDG_RUNTIME_DIR/blktap-control)."`
	Name   string `short:"n" placeholder:"PATH" help:"Path of the new leaf (default: <base>.snapN.vhd beside the current leaf, N the first free). An existing file is never overwritten."`
	JSON   bool   `name:"json" help:"Print the result as JSON: minor, parent, leaf, image, paused_ns."`
	Disk   string `arg:"" name:"DISK" help:"The disk: its minor (3), the image it serves (vhd:/srv/a.vhd), or that image's path."`
}

const description = `Take a live snapshot of a disk a tapdisk serves (blktap's xmsnap): pause it, make its image the read-only parent of a new VHD leaf, resume it on the leaf. Prints the new leaf's path. If a step fails the disk is resumed on its original image. Exit status: 0 done, 1 failed (disk serving its original image), 2 bad command line, 3 failed and the disk stays paused.`

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c cli
	_, err := clikit.Parse("xmsnap", description, &c, args, stdout, stderr)
	switch {
	case errors.Is(err, clikit.ErrHelp):
		return exitOK
	case err != nil:
		clikit.PrintUsage(stderr, "xmsnap", err)
		return exitUsage
	}
	res, err := c.snap(ctx)
	switch {
	case errors.Is(err, livesnap.ErrStillPaused):
		fmt.Fprintf(stderr, "xmsnap: %v\n", err)
		return exitPaused
	case err != nil:
		fmt.Fprintf(stderr, "xmsnap: %v\n", err)
		return exitFail
	case c.JSON:
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(res)
	default:
		fmt.Fprintln(stdout, res.Leaf)
	}
	return exitOK
}

// snap finds the disk and snapshots it.
func (c *cli) snap(ctx context.Context) (livesnap.Result, error) {
	dir, err := rundir.Resolve(c.RunDir)
	if err != nil {
		return livesnap.Result{}, err
	}
	pid, minor, err := find(ctx, dir, c.Disk)
	if err != nil {
		return livesnap.Result{}, err
	}
	client, err := control.Dial(dir.Ctl(pid))
	if err != nil {
		return livesnap.Result{}, err
	}
	defer client.Disconnect()
	return livesnap.Take(ctx, client, minor, livesnap.Options{Name: c.Name})
}
