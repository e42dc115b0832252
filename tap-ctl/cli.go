package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"

	clikit "gotap.dev/libtap/cli"

	"github.com/alecthomas/kong"
	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/rundir"
)

// cli is the command line: one field per command, one file per command.
type cli struct {
	RunDir string `name:"run-dir" placeholder:"DIR" help:"Run directory of the tapdisks' sockets and minor markers (default: $BLKTAP_RUN_DIR, else /run/blktap-control for root, else $XDG_RUNTIME_DIR/blktap-control)."`

	List     listCmd     `cmd:"" help:"List VBDs, tapdisks and allocated minors."`
	Allocate allocateCmd `cmd:"" help:"Reserve a minor; prints its marker, RUNDIR/tapdisk/tapdisk-MINOR, as blktap does."`
	Free     freeCmd     `cmd:"" help:"Release a minor (and what a killed tapdisk left of it)."`
	Spawn    spawnCmd    `cmd:"" help:"Start a tapdisk; prints its pid."`
	Attach   attachCmd   `cmd:"" help:"Attach a minor to a tapdisk."`
	Detach   detachCmd   `cmd:"" help:"Detach a closed minor (a spawned tapdisk exits with its last)."`
	Open     openCmd     `cmd:"" help:"Open an image on a minor; prints its NBD URI."`
	Close    closeCmd    `cmd:"" help:"Close a minor's image."`
	Pause    pauseCmd    `cmd:"" help:"Drain a minor's requests and close its image."`
	Unpause  unpauseCmd  `cmd:"" help:"Reopen a paused minor's image, or another one."`
	Create   createCmd   `cmd:"" help:"Allocate, spawn, attach and open in one step; prints the NBD URI."`
	Destroy  destroyCmd  `cmd:"" help:"Close, detach and free in one step."`
	Stats    statsCmd    `cmd:"" help:"Print a minor's state and counters as JSON."`
	Rate     rateCmd     `cmd:"" help:"Change a minor's rate limits live, without a pause; prints those in force (its image needs a valve layer: open --rate)."`
}

const description = `Control tapdisk processes (blktap's tap-ctl). Exit status: 0, else the errno of the failure (22 EINVAL for a bad command line), its text on stderr. See tap-ctl COMMAND --help.`

// env is what every command's Run receives.
type env struct {
	stdout, stderr io.Writer
	dir            rundir.Dir
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c cli
	kctx, err := clikit.Parse("tap-ctl", description, &c, args, stdout, stderr,
		kong.ConfigureHelp(kong.HelpOptions{Compact: true}),
		kong.BindTo(ctx, (*context.Context)(nil)),
	)
	switch {
	case errors.Is(err, clikit.ErrHelp):
		return 0
	case err != nil:
		clikit.PrintUsage(stderr, "tap-ctl", err)
		return int(syscall.EINVAL)
	}
	e := &env{stdout: stdout, stderr: stderr}
	if e.dir, err = rundir.Resolve(c.RunDir); err == nil {
		err = kctx.Run(e)
	}
	if err != nil {
		return report(stderr, kctx.Command(), err)
	}
	return 0
}

// report prints err as blktap does, `tap-ctl: COMMAND: errno text`, with
// the details when they say more, and returns the errno as exit status.
func report(stderr io.Writer, command string, err error) int {
	errno := disk.Errno(err)
	text := errno.Error()
	text = strings.ToUpper(text[:1]) + text[1:]
	name, _, _ := strings.Cut(command, " ")
	if detail := err.Error(); detail != errno.Error() {
		fmt.Fprintf(stderr, "tap-ctl: %s: %s (%s)\n", name, text, detail)
	} else {
		fmt.Fprintf(stderr, "tap-ctl: %s: %s\n", name, text)
	}
	return int(errno)
}

// errUnsupported refuses an option of blktap's that gotap cannot honour,
// saying why.
func errUnsupported(option, why string) error {
	return fmt.Errorf("%s: %s: %w", option, why, syscall.EOPNOTSUPP)
}
