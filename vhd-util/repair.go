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
always with -b. Prints "NAME: footer repaired" or "NAME: footer is fine".

Example:
  vhd-util repair -n disk.vhd`
}

func (c *repairCmd) Run(e *env) error {
	repaired, err := libvhd.RepairFooter(c.Name, c.Backup, nil)
	if err != nil {
		return err
	}
	msg := c.Name + ": footer is fine"
	if repaired {
		msg = c.Name + ": footer repaired"
	}
	return c.print(e.stdout, map[string]any{"name": c.Name, "repaired": repaired}, msg)
}
