package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"syscall"

	clikit "gotap.dev/libtap/cli"

	"github.com/alecthomas/kong"
)

// cli is the command line: one field per subcommand, one file per field.
type cli struct {
	// Debug is accepted anywhere on the line, as blktap's vhd-util
	// takes it (its biggest user passes it to almost every call).
	Debug bool `name:"debug" help:"Log what the command does on stderr (stdout is unchanged)."`

	Create   createCmd   `cmd:"" help:"Create a new dynamic or fixed image."`
	Snapshot snapshotCmd `cmd:"" help:"Create a differencing image on top of a parent."`
	Query    queryCmd    `cmd:"" help:"Print facts about an image, one per line."`
	Read     readCmd     `cmd:"" help:"Dump an image's metadata and data."`
	Set      setCmd      `cmd:"" help:"Set the hidden flag or the batmap marker."`
	Repair   repairCmd   `cmd:"" help:"Restore the EOF footer from the copy at offset 0."`
	Modify   modifyCmd   `cmd:"" help:"Reparent, move the footer or empty the BAT."`
	Scan     scanCmd     `cmd:"" help:"List images with their size, flags and parent."`
	Check    checkCmd    `cmd:"" help:"Verify an image (and its parents)."`
	Coalesce coalesceCmd `cmd:"" help:"Write a differencing image's data into its parent."`
	Resize   resizeCmd   `cmd:"" help:"Grow an image's virtual size."`
	Revert   revertCmd   `cmd:"" help:"Undo an interrupted journaled operation."`
	Fill     fillCmd     `cmd:"" help:"Allocate every block of an image."`
	Convert  convertCmd  `cmd:"" help:"Copy a disk into a raw file or a standalone VHD, keeping holes."`
}

// env is what every command's Run receives.
type env struct {
	stdout, stderr io.Writer
	args           []string // the raw arguments, for flags whose order matters
}

// codedError is an error that chooses the exit status (an errno, as
// blktap's); its text is the wrapped error's.
type codedError struct {
	errno syscall.Errno
	err   error
}

func (e codedError) Error() string { return e.err.Error() }
func (e codedError) Unwrap() error { return e.err }

// usagef reports a request the tool refuses before touching any image
// (EINVAL, as blktap's usage errors).
func usagef(format string, args ...any) error {
	return codedError{syscall.EINVAL, fmt.Errorf(format, args...)}
}

// invalidf reports an image found invalid (EINVAL).
func invalidf(format string, args ...any) error {
	return codedError{syscall.EINVAL, fmt.Errorf(format, args...)}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	var c cli
	kctx, err := clikit.Parse("vhd-util", "Create, inspect, check and repair VHD images (blktap's vhd-util). Sizes are in MB unless suffixed K, M, G, T or B. A parent must lie in its child's folder, or under a folder allowed by --parent-dir or $GOTAP_PARENT_DIRS (colon-separated). Exit status: 0, else the errno of the failure as blktap's (22 EINVAL for a bad command line or an invalid image, 2 ENOENT, 5 EIO, 13 EACCES for a refused parent, 16 EBUSY for an image in use).",
		&c, args, stdout, stderr,
		kong.ConfigureHelp(kong.HelpOptions{Compact: true, NoExpandSubcommands: true}),
		kong.BindTo(ctx, (*context.Context)(nil)),
		kong.Bind(&env{stdout: stdout, stderr: stderr, args: args}),
	)
	switch {
	case errors.Is(err, clikit.ErrHelp):
		return 0
	case err != nil:
		clikit.PrintUsage(stderr, "vhd-util", err)
		return int(syscall.EINVAL)
	}
	log := debugLog(stderr, c.Debug)
	log.Debug("vhd-util", "command", kctx.Selected().Name, "args", args)
	if err := kctx.Run(); err != nil {
		fmt.Fprintf(stderr, "vhd-util %s: %v\n", kctx.Selected().Name, err)
		errno := errnoOf(err)
		log.Debug("failed", "exit", int(errno), "err", err)
		return int(errno)
	}
	log.Debug("done")
	return 0
}

// debugLog logs at debug level on stderr with --debug, else nowhere.
func debugLog(stderr io.Writer, on bool) *slog.Logger {
	if !on {
		return slog.New(slog.DiscardHandler)
	}
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// image is the -n flag every command but scan takes.
type image struct {
	Name string `short:"n" required:"" placeholder:"NAME" help:"The image file."`
}

// parents is the --parent-dir flag of the commands that open parents.
type parents struct {
	ParentDirs []string `name:"parent-dir" sep:"none" placeholder:"DIR" help:"Also accept parents anywhere under DIR (repeatable), beside the child's own folder and those of $GOTAP_PARENT_DIRS (colon-separated). Block devices (an LVM volume group's /dev/VG) are parents only in such a folder."`
}

// output is the --json flag every command takes.
type output struct {
	JSON bool `name:"json" help:"Print one JSON document instead of plain text."`
}

// print writes v as one JSON document with --json, else the plain lines.
func (o output) print(w io.Writer, v any, lines ...string) error {
	if o.JSON {
		return writeJSON(w, v)
	}
	for _, l := range lines {
		if _, err := fmt.Fprintln(w, l); err != nil {
			return err
		}
	}
	return nil
}

// writeJSON prints v as one indented JSON document.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
