package main

import (
	"context"
	"fmt"
	"strings"

	clikit "gotap.dev/libtap/cli"
	"gotap.dev/libtap/livesnap"
)

type coalesceCmd struct {
	diskArg
	Leaf   bool   `help:"Merge the leaf's data too: take a snapshot first (named as snapshot's -n), then merge the old leaf with the others."`
	Name   string `short:"n" placeholder:"PATH" help:"With --leaf: the snapshot's path (default as snapshot's)."`
	Top    int    `placeholder:"N" help:"First layer to merge (0 is the leaf; default 1, its parent)."`
	Base   int    `placeholder:"N" help:"Layer to merge into (default: the chain's last image)."`
	Remove bool   `help:"Delete the merged images once out of the chain (never one another process still has open)."`
}

func (coalesceCmd) Help() string {
	return `Merges layers TOP..BASE-1 of the disk's chain into layer BASE while the
disk serves (the tapdisk copies their data beside the guest's requests:
the chain reads the same throughout), then pauses the disk only to point
the layer above them at BASE, and resumes. By default everything between
the leaf and the last image merges into the last image, leaving a chain
of two; --leaf merges the leaf too (after a snapshot, which leaves a new
empty leaf on top). Prints the sectors copied, then each merged image;
the merged images stay on disk unless --remove. --json prints {minor,
leaf, sectors, merged, removed, pauses_ns}, each pause's length.

Examples:
  xmsnap coalesce 0
  xmsnap coalesce --leaf --remove vhd:/srv/vm.snap20.vhd`
}

func (cc *coalesceCmd) Run(ctx context.Context, c *cli, res *result) error {
	if cc.Name != "" && !cc.Leaf {
		return clikit.Usagef("-n names the snapshot --leaf takes: give --leaf too")
	}
	client, minor, err := c.connect(ctx, cc.diskArg)
	if err != nil {
		return err
	}
	defer client.Disconnect()
	done, err := livesnap.Coalesce(ctx, client, minor, livesnap.CoalesceOptions{
		Leaf: cc.Leaf, Snapshot: livesnap.Options{Name: cc.Name},
		Top: cc.Top, Base: cc.Base, Remove: cc.Remove,
	})
	var text strings.Builder
	fmt.Fprintf(&text, "Coalesced %d sectors\n", done.Sectors)
	for _, m := range done.Merged {
		fmt.Fprintln(&text, m)
	}
	*res = result{done, text.String()}
	return err
}
