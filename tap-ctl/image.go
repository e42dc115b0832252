package main

import (
	"fmt"
	"io"
	"path/filepath"
	"syscall"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/disk"
)

// imageFlags are the options open and create take to open an image.
type imageFlags struct {
	Image     string `short:"a" required:"" placeholder:"TYPE:PATH" help:"The image: vhd:/srv/a.vhd, aio:/srv/a.img (raw file or device), ram:64M, nbd:unix:/run/x.sock, possibly under filter layers (valve:rbps=20M:vhd:/srv/a.vhd; see tapdisk --help). A relative path is taken from the current folder."`
	Rate      string `placeholder:"LIMITS" help:"Rate-limit the disk: a valve layer over the image with these limits, e.g. rbps=20M,wbps=20M,riops=500,wiops=500,burst=1s (see tap-ctl rate, which changes them live)."`
	ReadOnly  bool   `short:"R" help:"Open it read-only."`
	NoDirect  bool   `short:"D" help:"Buffered I/O instead of O_DIRECT (aio and vhd images)."`
	Timeout   int    `short:"t" placeholder:"SECS" help:"Give up retrying a request after SECS seconds (default 120)."`
	Frontend  string `default:"none" enum:"none,nbd,ublk" help:"Also serve the disk as a kernel block device, whose path is printed instead of the NBD URI: nbd is the kernel's NBD client (/dev/nbdN; modprobe nbd), ublk the kernel's ublk driver (/dev/ublkbN; modprobe ublk_drv), none the NBD socket only."`
	Device    string `placeholder:"DEV" help:"With --frontend: the device to take (/dev/nbd3, /dev/ublkb3); default: the kernel picks a free one."`
	Recover   bool   `help:"With --frontend and --device: reattach the image to the device its tapdisk left waiting when it died (kill -9): the requests the device holds go on, none fails, if this comes within the request timeout (-t) of the death."`
	Secondary string `short:"2" placeholder:"TYPE:PATH" help:"blktap's mirror secondary: refused, gotap has no mirroring."`
	Standby   bool   `short:"s" help:"blktap's standby mode for the mirror secondary: refused, gotap has no mirroring."`
}

// request is the open request for minor, or why it cannot be made.
func (f imageFlags) request(minor int) (control.OpenRequest, error) {
	if f.Secondary != "" {
		return control.OpenRequest{}, errUnsupported("-2", "gotap's tapdisk has no mirroring to a secondary image (blktap's remus/mirror driver)")
	}
	if f.Standby {
		return control.OpenRequest{}, errUnsupported("-s", "standby only applies to a mirror secondary, which gotap does not have")
	}
	image, err := absImage(f.Image)
	if err != nil {
		return control.OpenRequest{}, err
	}
	if f.Rate != "" {
		image = "valve:" + f.Rate + ":" + image
	}
	return control.OpenRequest{
		Minor: minor, Image: image, ReadOnly: f.ReadOnly, NoDirect: f.NoDirect, Timeout: f.Timeout,
		Frontend: f.Frontend, Device: f.Device, Recover: f.Recover,
	}, nil
}

// printOpened prints where an open serves the disk: its block device if
// it has one (as blktap printed its tapdev), else its NBD URI.
func printOpened(w io.Writer, rep control.OpenReply) {
	if rep.Device != "" {
		fmt.Fprintln(w, rep.Device)
		return
	}
	fmt.Fprintln(w, rep.URI)
}

// absImage makes a file image's path absolute, under its filter layers
// if any: the tapdisk opening it may run in another folder.
func absImage(image string) (string, error) {
	c, err := disk.ParseChain(image)
	if err != nil {
		return "", fmt.Errorf("%w: %w", err, syscall.EINVAL)
	}
	if c.Image.Type != "vhd" && c.Image.Type != "aio" {
		return image, nil
	}
	if c.Image.Path, err = filepath.Abs(c.Image.Path); err != nil {
		return "", err
	}
	return c.String(), nil
}
