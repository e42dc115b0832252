package main

import (
	"context"
	"fmt"

	clikit "gotap.dev/libtap/cli"
	"gotap.dev/libtap/livesnap"
)

type growCmd struct {
	diskArg
	Size int64 `short:"s" required:"" placeholder:"MB" help:"The new size in MB (as vhd-util resize -s)."`
}

func (growCmd) Help() string {
	return `Pauses the disk, grows its VHD leaf to SIZE MB within the BAT entries
reserved when the leaf was made (vhd-util create -S or snapshot -S;
vhd-util query -S tells how far), and resumes it at the new size. NBD
connections opened afterwards see the new size. Shrinking is refused;
a leaf without room is left as it was (grow it offline with vhd-util
resize -j). Prints the new size in bytes; --json prints {minor, image,
from, to, paused_ns}.

Example:
  xmsnap grow -s 20480 0`
}

func (g *growCmd) Run(ctx context.Context, c *cli, res *result) error {
	if g.Size <= 0 {
		return clikit.Usagef("-s %d: want a size in MB", g.Size)
	}
	client, minor, err := c.connect(ctx, g.diskArg)
	if err != nil {
		return err
	}
	defer client.Disconnect()
	done, err := livesnap.Grow(ctx, client, minor, g.Size<<20)
	*res = result{done, fmt.Sprintln(done.To)}
	return err
}
