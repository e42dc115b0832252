package main

import (
	"context"

	"gotap.dev/libtap/livesnap"
)

type snapshotCmd struct {
	diskArg
	Name string `short:"n" placeholder:"PATH" help:"Path of the new leaf (default: <base>.snapN.vhd beside the current leaf, N the first free). An existing file is never overwritten."`
}

func (snapshotCmd) Help() string {
	return `Pauses the disk, makes the image it serves the read-only parent of a new
differencing VHD, resumes the disk on that new leaf and prints its path.
If a step fails the disk is resumed on its original image. --json prints
{minor, parent, leaf, image, paused_ns}.

Example:
  xmsnap 0
  xmsnap snapshot -n /srv/vm.before-upgrade.vhd vhd:/srv/vm.vhd`
}

func (s *snapshotCmd) Run(ctx context.Context, c *cli, res *result) error {
	client, minor, err := c.connect(ctx, s.diskArg)
	if err != nil {
		return err
	}
	defer client.Disconnect()
	snap, err := livesnap.Take(ctx, client, minor, livesnap.Options{Name: s.Name})
	*res = result{snap, snap.Leaf + "\n"}
	return err
}
