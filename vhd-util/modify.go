package main

import (
	"fmt"

	"gotap.dev/libvhd"
)

type modifyCmd struct {
	image
	output
	parents
	Parent       string `short:"p" placeholder:"PARENT" help:"Point the differencing image at PARENT (UUID, timestamp, name, locators)."`
	Raw          bool   `short:"m" help:"With -p: PARENT is a raw file or device."`
	PhysicalSize string `short:"s" placeholder:"BYTES" help:"Move the EOF footer so the file is BYTES long (bytes, or K/M/G/T suffix); refuses to cut into data."`
	Zero         bool   `short:"z" help:"Empty the BAT: every block unallocated, the batmap cleared, the file cut back to its metadata."`
}

func (modifyCmd) Help() string {
	return `Changes an image's metadata in place. -p does not check that PARENT holds
the data the image was made from: that is the caller's promise (after a
coalesce or a copy). Prints nothing on success.

Example:
  vhd-util modify -n leaf.vhd -p /srv/new-base.vhd
  vhd-util modify -n disk.vhd -z`
}

func (c *modifyCmd) Run(e *env) error {
	if c.Parent == "" && c.PhysicalSize == "" && !c.Zero {
		return usagef("nothing to do: give -p, -s or -z")
	}
	if c.Raw && c.Parent == "" {
		return usagef("-m needs -p")
	}
	if c.Parent != "" {
		if err := libvhd.SetParent(c.Name, c.Parent, c.Raw, nil, c.ParentDirs...); err != nil {
			return fmt.Errorf("set parent: %w", err)
		}
	}
	if c.Zero {
		if err := libvhd.EmptyBAT(c.Name, nil); err != nil {
			return fmt.Errorf("empty BAT: %w", err)
		}
	}
	if c.PhysicalSize != "" {
		size, err := parseSize(c.PhysicalSize, 1)
		if err != nil {
			return err
		}
		if err := libvhd.SetPhysicalSize(c.Name, size, nil); err != nil {
			return fmt.Errorf("set physical size: %w", err)
		}
	}
	im, err := libvhd.Open(c.Name, libvhd.OpenOptions{ReadOnly: true, NoParent: true})
	if err != nil {
		return err
	}
	defer im.Close()
	return c.print(e.stdout, describe(im))
}
