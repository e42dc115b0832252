package main

import "gotap.dev/libvhd"

type repairCmd struct {
	image
	output
	Backup bool `short:"b" help:"Copy the footer at offset 0 over the EOF footer even if the EOF one looks valid."`
}

func (repairCmd) Help() string {
	return `Rewrites the EOF footer of a dynamic or differencing image from the copy
at offset 0 when the EOF footer is damaged (bad cookie or checksum), or
always with -b; then gives an image whose unique id is null a new one
(both footers). Prints nothing on success, as blktap; --json says what
was done.

Example:
  vhd-util repair -n disk.vhd`
}

func (c *repairCmd) Run(e *env) error {
	repaired, err := libvhd.RepairFooter(c.Name, c.Backup, nil)
	if err != nil {
		return err
	}
	given, err := libvhd.GiveUUID(c.Name, nil)
	if err != nil {
		return err
	}
	return c.print(e.stdout, map[string]any{"name": c.Name, "repaired": repaired, "uuid_given": given})
}
