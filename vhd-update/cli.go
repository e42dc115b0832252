package main

import (
	"errors"
	"fmt"
	"io"

	clikit "gotap.dev/libtap/cli"

	"gotap.dev/libvhd"
	"gotap.dev/libvhd/imagelock"
)

// cli is blktap's command line: -n, -j, -r, and --debug.
type cli struct {
	Name     string `short:"n" required:"" placeholder:"NAME" help:"The image to update."`
	Journal  string `short:"j" placeholder:"JOURNAL" help:"The journal file (default NAME.journal). An update that was cut short is finished from it."`
	Rollback bool   `short:"r" help:"Roll back an update that was cut short, from its journal, instead of finishing it."`
	Debug    bool   `name:"debug" help:"Print each step on standard error."`
}

// Exit codes; documented in doc.go.
const (
	exitOK      = 0
	exitRefused = 1
	exitInvalid = 2
	exitIO      = 3
)

const description = `Convert a VHD of blktap creator version tap 0.1, whose sector bitmaps
are in blktap2's old bit order, to tap 1.1 in place, through a journal. An
update cut short leaves the image disabled: run vhd-update again to finish
it, or with -r to roll it back. Any other image is left untouched.
Exit status: 0 done or nothing to do, 1 usage or refused (image in use,
unusable journal), 2 invalid image, 3 I/O error.`

func run(args []string, stdout, stderr io.Writer) int {
	var c cli
	_, err := clikit.Parse("vhd-update", description, &c, args, stdout, stderr)
	switch {
	case errors.Is(err, clikit.ErrHelp):
		return exitOK
	case err != nil:
		clikit.PrintUsage(stderr, "vhd-update", err)
		return exitRefused
	}
	opts := libvhd.UpdateOptions{Journal: c.Journal, Rollback: c.Rollback}
	if c.Debug {
		opts.Log = func(step string) { fmt.Fprintf(stderr, "vhd-update: %s: %s\n", c.Name, step) }
	}
	out, err := libvhd.Update(c.Name, opts)
	if err != nil {
		fmt.Fprintf(stderr, "vhd-update: %v\n", err)
		return exitCode(err)
	}
	fmt.Fprintf(stdout, "%s: %v\n", c.Name, out)
	return exitOK
}

// exitCode classifies an error: refused, bad image, or I/O.
func exitCode(err error) int {
	var fe *libvhd.FormatError
	switch {
	case errors.Is(err, imagelock.ErrLocked), errors.Is(err, libvhd.ErrJournal):
		return exitRefused
	case errors.As(err, &fe), errors.Is(err, libvhd.ErrNoFooter):
		return exitInvalid
	}
	return exitIO
}
