package main

import (
	"fmt"

	"gotap.dev/libvhd"
)

type setCmd struct {
	image
	output
	Field string `short:"f" required:"" enum:"hidden,marker" placeholder:"FIELD" help:"hidden (footer flag, 0 or 1) or marker (batmap marker, 0-255)."`
	Value uint8  `short:"v" required:"" placeholder:"N" help:"The new value."`
}

func (setCmd) Help() string {
	return `Sets one flag that storage managers keep in the image. hidden is footer
byte 0x55: both footer copies are rewritten, the EOF one first. marker is
the batmap header's marker (images made by blktap or this tool only).
Prints nothing on success.

Example:
  vhd-util set -n base.vhd -f hidden -v 1`
}

func (c *setCmd) Run(e *env) error {
	var err error
	switch c.Field {
	case "hidden":
		if c.Value > 1 {
			return usagef("hidden %d: want 0 or 1", c.Value)
		}
		err = libvhd.SetHidden(c.Name, c.Value, nil)
	case "marker":
		err = libvhd.SetMarker(c.Name, c.Value, nil)
	}
	if err != nil {
		return fmt.Errorf("set %s: %w", c.Field, err)
	}
	return c.print(e.stdout, map[string]any{"name": c.Name, c.Field: c.Value})
}
