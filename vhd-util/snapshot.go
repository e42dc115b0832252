package main

import "gotap.dev/libvhd"

type snapshotCmd struct {
	output
	parents
	Name      string `short:"n" required:"" placeholder:"CHILD" help:"The new differencing image."`
	Parent    string `short:"p" required:"" placeholder:"PARENT" help:"The image to snapshot (a VHD, or with -m a raw file or device)."`
	Raw       bool   `short:"m" help:"PARENT is a raw file or device, not a VHD."`
	Limit     int    `short:"l" placeholder:"DEPTH" help:"Refuse if the chain, CHILD included, would be deeper than DEPTH."`
	KeepEmpty bool   `short:"e" help:"Link to PARENT even when it is an empty differencing image (by default CHILD links past empty ones)."`
	MaxSize   string `short:"S" placeholder:"MAXSIZE" help:"Size the BAT for growth up to MAXSIZE (MB, or K/M/G/T/B suffix)."`
}

func (snapshotCmd) Help() string {
	return `Creates CHILD, a differencing image of PARENT's size that reads through
to PARENT until written. PARENT must no longer be written afterwards. The
child records PARENT's path relative to its own folder. Prints nothing on
success (the chosen parent with --json). CHILD may be an existing block
device, such as an LVM logical volume beside PARENT's (LVHD), as for
create; a parent on a block device must lie in a folder allowed with
--parent-dir or GOTAP_PARENT_DIRS (/dev/VG).

Example:
  vhd-util snapshot -n leaf.vhd -p base.vhd
  vhd-util snapshot -n /dev/VG/VHD-b -p /dev/VG/VHD-a -S 2T
  vhd-util snapshot -n leaf.vhd -p /dev/vg/raw -m -l 30`
}

func (c *snapshotCmd) Run(e *env) error {
	opts := libvhd.SnapshotOptions{ParentRaw: c.Raw, MaxDepth: c.Limit, KeepEmpty: c.KeepEmpty, ParentDirs: c.ParentDirs}
	if c.Limit < 0 {
		return usagef("-l %d: depth must be positive", c.Limit)
	}
	if c.MaxSize != "" {
		var err error
		if opts.MaxSize, err = parseSize(c.MaxSize, 1<<20); err != nil {
			return err
		}
	}
	im, err := libvhd.Snapshot(c.Name, c.Parent, opts)
	if err != nil {
		return err
	}
	defer im.Close()
	return c.print(e.stdout, describe(im))
}
