package main

import (
	"os"

	"gotap.dev/libvhd"
)

type createCmd struct {
	image
	output
	Size    string `short:"s" required:"" placeholder:"SIZE" help:"Virtual size: MB, or with a K, M, G, T or B suffix (at most 2040G)."`
	Fixed   bool   `short:"r" help:"Fixed (preallocated, here sparse) instead of dynamic."`
	MaxSize string `short:"S" placeholder:"MAXSIZE" help:"Size the BAT and batmap for growth up to MAXSIZE without moving blocks."`
}

func (createCmd) Help() string {
	return `Creates NAME; an existing file is never overwritten. A dynamic image
(the default) holds only the blocks written; a fixed one (-r) is a raw disk
followed by a footer. Prints nothing on success.

An existing block device, such as an LVM logical volume (LVHD: one VHD per
volume), is written into if it holds the image's metadata (ENOSPC if not);
the footer follows the data, not the device's end, and blocks are allocated
up to the device's size.

Example:
  vhd-util create -n disk.vhd -s 10G
  vhd-util create -n disk.vhd -s 1073742336B -r
  lvcreate -n VHD-a -L 8M VG && vhd-util create -n /dev/VG/VHD-a -s 10G -S 2T`
}

func (c *createCmd) Run(e *env) error {
	size, err := parseSize(c.Size, 1<<20)
	if err != nil {
		return err
	}
	if size > libvhd.MaxDiskSize {
		return usagef("%s: size %s (%d bytes) is over the VHD limit of 2040 GiB (%d bytes)", c.Name, c.Size, size, int64(libvhd.MaxDiskSize))
	}
	opts := libvhd.CreateOptions{Type: libvhd.Dynamic, Size: size}
	if c.Fixed {
		opts.Type = libvhd.Fixed
	}
	if c.MaxSize != "" {
		if opts.MaxSize, err = parseSize(c.MaxSize, 1<<20); err != nil {
			return err
		}
	}
	im, err := libvhd.Create(c.Name, opts)
	if err != nil {
		return err
	}
	defer im.Close()
	return c.print(e.stdout, describe(im))
}

// summary is the JSON form of an image created or modified.
type summary struct {
	Name         string `json:"name"`
	Type         string `json:"type"`
	Size         int64  `json:"size"`
	PhysicalSize int64  `json:"physical_size"`
	Parent       string `json:"parent,omitempty"`
}

func describe(im *libvhd.Image) summary {
	s := summary{Name: im.Path(), Type: im.Type().String(), Size: im.Size(), Parent: im.ParentPath()}
	if st, err := os.Stat(im.Path()); err == nil {
		s.PhysicalSize = st.Size()
	}
	return s
}
