package main

import "gotap.dev/libvhd"

type fillCmd struct {
	image
	output
	parents
	BATOnly bool `short:"b" help:"Allocate the missing blocks without copying data: BAT and bitmaps only (fast)."`
}

func (fillCmd) Help() string {
	return `Allocates every block of a dynamic or differencing image, copying into
each what the chain shows there, so the image holds its whole disk by
itself (every bitmap full) and reads exactly as before. -b only allocates
the missing blocks: a dynamic image's read as zeros as before, a
differencing image's keep reading the parent. Safe to interrupt: any
survivor reads as before, and running it again finishes. Prints nothing
on success (--json: the blocks it allocated).

Example:
  vhd-util fill -n disk.vhd`
}

func (c *fillCmd) Run(e *env) error {
	n, err := libvhd.Fill(c.Name, libvhd.FillOptions{BATOnly: c.BATOnly, ParentDirs: c.ParentDirs})
	if err != nil {
		return err
	}
	return c.print(e.stdout, map[string]any{"name": c.Name, "allocated_blocks": n})
}
