package main

import (
	"errors"
	"fmt"

	"gotap.dev/libvhd"
)

type resizeCmd struct {
	image
	output
	Size    string `short:"s" required:"" placeholder:"MB" help:"The new virtual size, in MB unless suffixed (K, M, G, T or B); never below the current one."`
	Journal string `short:"j" placeholder:"JOURNAL" help:"Grow offline through a journal at JOURNAL (a new file): blocks move if the BAT must grow. If cut short, the image stays disabled until vhd-util revert -n NAME -j JOURNAL."`
	Fast    bool   `short:"f" help:"Grow fast, without a journal, only within the BAT reserved at creation (create -S, snapshot -S; query -S gives the limit)."`
}

func (resizeCmd) Help() string {
	return `Grows the virtual disk of a dynamic, differencing or fixed image that no
one has open (pause its tapdisk first). The data stays where the guest sees
it; the new space reads as zeros (a differencing image: as its parent).
Shrinking is refused, as blktap does, with "NAME: size (X) < curr size (Y)"
on stdout, in bytes.

Give one of -j and -f. -f changes the footers only, an instant, but only
up to the size the BAT was reserved for (vhd-util query -S). -j grows any
dynamic or differencing image as far as 2040 GiB: when the BAT must grow,
the first data blocks are copied to the end of the file to make room, all
under a journal, and the image is disabled meanwhile (every tool refuses
it but query, scan and read). A crash leaves the old image, the grown one,
or a disabled one that "vhd-util revert -n NAME -j JOURNAL" gives back as
it was. A fixed image grows only with -j: its file grows and the footer
moves. Prints nothing on success; on failure "resize failed: -ERRNO", as
blktap.

Example:
  vhd-util resize -n disk.vhd -s 65536 -j /var/tmp/disk.vhd.journal
  vhd-util resize -n leaf.vhd -s 20G -f`
}

func (c *resizeCmd) Run(e *env) error {
	if c.Fast == (c.Journal != "") {
		return usagef("give -j JOURNAL or -f, not both")
	}
	size, err := parseSize(c.Size, 1<<20)
	if err != nil {
		return err
	}
	err = libvhd.Resize(c.Name, size, libvhd.ResizeOptions{Journal: c.Journal, Fast: c.Fast})
	if err == nil {
		return c.print(e.stdout, map[string]any{"name": c.Name, "size": size, "journal": c.Journal, "fast": c.Fast})
	}
	var se *libvhd.SizeError
	if !c.JSON {
		if errors.As(err, &se) {
			fmt.Fprintf(e.stdout, "%s: size (%d) < curr size (%d)\n", c.Name, se.Size, se.Current)
		}
		fmt.Fprintf(e.stdout, "resize failed: %d\n", -int(errnoOf(err)))
	}
	return err
}
