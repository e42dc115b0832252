package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/signal"
	"syscall"

	clikit "gotap.dev/libtap/cli"
	"gotap.dev/libvhd"
	"gotap.dev/libvhd/imagelock"
)

type convertCmd struct {
	output
	parents
	Source    string `arg:"" placeholder:"SOURCE" help:"The disk to copy: a VHD (and its parents) or raw file, TYPE:PATH as tapdisk names disks, or an NBD URI."`
	Name      string `short:"n" required:"" placeholder:"DEST" help:"The file to write; an existing one is refused (see --overwrite)."`
	Type      string `short:"t" enum:"dynamic,fixed,raw" default:"dynamic" placeholder:"TYPE" help:"What to write: dynamic (the default: a VHD of the blocks holding data), fixed (a VHD the size of the disk, sparse) or raw."`
	MaxSize   string `short:"S" placeholder:"MAXSIZE" help:"Dynamic: size the BAT for growth up to MAXSIZE (MB, or K/M/G/T/B suffix), as create -S."`
	Overwrite bool   `name:"overwrite" help:"Replace DEST if it exists (a regular file only), once the copy is complete."`
}

func (convertCmd) Help() string {
	return `Copies the whole virtual disk SOURCE into DEST, a new standalone image:
a chain is read as its top image shows it, so a snapshot chain becomes one
image. Holes stay holes: what SOURCE reports unallocated is not even read,
and what reads as zeros is not written, so DEST is as sparse as the data
(unallocated VHD blocks, or holes in a raw file).

SOURCE is one of

  PATH                              a VHD chain if the file holds a VHD,
                                    else a raw file or block device
  TYPE:PATH                         as tapdisk opens it: vhd:PATH, aio:PATH
                                    (raw, whatever it holds), nbd:unix:SOCKET,
                                    with filter layers (delay:read=1ms:aio:PATH)
  nbd://HOST[:PORT]/EXPORT          an NBD export, such as a disk a tapdisk
  nbd+unix:///EXPORT?socket=SOCKET  serves: the way to copy a disk in use

DEST is written as DEST.partial-XXXXXXXX, synced, then renamed: an
interrupted convert never leaves a DEST, at most a .partial file to delete.
A VHD holds whole 512-byte sectors: a SOURCE of another size is refused
unless converted to raw. A progress bar is drawn on stderr when it is a
terminal. Prints nothing on success (a summary with --json).

Example:
  vhd-util convert disk.raw -n disk.vhd
  vhd-util convert leaf.vhd -n flat.vhd
  vhd-util convert disk.vhd -n disk.raw -t raw
  vhd-util convert 'nbd+unix:///?socket=/run/blktap-control/nbd4242.0' -n copy.vhd`
}

var convertFormats = map[string]libvhd.ConvertFormat{"dynamic": libvhd.ToDynamic, "fixed": libvhd.ToFixed, "raw": libvhd.ToRaw}

// convertSummary is the JSON form of a convert's result.
type convertSummary struct {
	Source       string `json:"source"` // what was opened: vhd:PATH, aio:PATH, nbd:ADDR…
	Name         string `json:"name"`
	Type         string `json:"type"`
	Size         int64  `json:"size"`
	PhysicalSize int64  `json:"physical_size"`
	Written      int64  `json:"written"` // bytes of data written
	Zeros        int64  `json:"zeros"`   // bytes read as zeros, left as holes
	Holes        int64  `json:"holes"`   // bytes the source reported as holes, not read
}

func (c *convertCmd) Run(ctx context.Context, e *env) error {
	opts := libvhd.ConvertOptions{Format: convertFormats[c.Type], Overwrite: c.Overwrite}
	if c.MaxSize != "" {
		if opts.Format != libvhd.ToDynamic {
			return usagef("-S applies to -t dynamic only")
		}
		var err error
		if opts.MaxSize, err = parseSize(c.MaxSize, 1<<20); err != nil {
			return err
		}
	}
	src, err := openSource(c.Source, c.ParentDirs)
	if err != nil {
		return explainConvert(err, c.Source)
	}
	defer src.Close()
	// Interrupted, the copy stops and removes its partial file.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	bar := clikit.NewProgress(e.stderr, "convert")
	opts.Progress = bar.Update
	res, err := libvhd.Convert(ctx, c.Name, src, opts)
	bar.Done()
	if err != nil {
		return explainConvert(err, c.Source)
	}
	s := convertSummary{Source: src.spec, Name: c.Name, Type: c.Type, Size: res.Size, Written: res.Written, Zeros: res.Zeros, Holes: res.Holes}
	if st, err := os.Stat(c.Name); err == nil {
		s.PhysicalSize = st.Size()
	}
	return c.print(e.stdout, s)
}

// explainConvert says what to do about a refused convert.
func explainConvert(err error, source string) error {
	switch {
	case errors.Is(err, fs.ErrExist):
		return fmt.Errorf("%w (--overwrite replaces it)", err)
	case errors.Is(err, libvhd.ErrPartialSector):
		return fmt.Errorf("%w: pad it with zeros first (truncate -s %%512 %s) or convert it -t raw", err, source)
	case errors.Is(err, libvhd.ErrEmptyDisk):
		return fmt.Errorf("%w (-t raw copies it)", err)
	case errors.Is(err, imagelock.ErrLocked):
		return fmt.Errorf("%w: a disk in use is copied through the NBD URI its tapdisk serves it at, nbd+unix:///?socket=RUNDIR/nbdPID.MINOR (tap-ctl list shows PID and MINOR)", err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("interrupted: %w", err)
	}
	return err
}
