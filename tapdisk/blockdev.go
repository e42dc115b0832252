package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"syscall"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/vbd"
)

// blockDevice is a kernel block device serving a minor's VBD beside its
// NBD socket: /dev/nbdN (kernelnbd.go), /dev/ublkbN (ublk.go).
type blockDevice interface {
	Path() string
	// Close removes the device; wait bounds the wait for its requests
	// in flight.
	Close(wait time.Duration) error
}

// attachFunc makes the device of a frontend for v, served on fe (whose
// NBD server already serves v), as req asks: the device req.Device or
// any, or with req.Recover the one a dead tapdisk left waiting.
type attachFunc func(d *daemon, fe *frontends, v *vbd.VBD, req control.OpenRequest) (blockDevice, error)

// blockFrontends are the --frontend values that make a device; "none"
// (or nothing) makes none.
var blockFrontends = map[string]attachFunc{
	control.FrontendNBD:  attachKernelNBD,
	control.FrontendUblk: attachUblk,
}

// checkFrontend refuses a frontend tapdisk does not know, and device
// options without a frontend to use them.
func checkFrontend(req control.OpenRequest) error {
	if req.Frontend == "" || req.Frontend == control.FrontendNone {
		if req.Device != "" || req.Recover {
			return control.Errorf(syscall.EINVAL, "a device and recover need a frontend that makes devices")
		}
		return nil
	}
	if blockFrontends[req.Frontend] == nil {
		return control.Errorf(syscall.EINVAL, "frontend %q: want %s or one of %s", req.Frontend, control.FrontendNone,
			strings.Join(slices.Sorted(maps.Keys(blockFrontends)), ", "))
	}
	if req.Recover && req.Device == "" {
		return control.Errorf(syscall.EINVAL, "recover needs the device to recover")
	}
	return nil
}

// attachBlock makes req's device, if it asks for one.
func attachBlock(d *daemon, fe *frontends, v *vbd.VBD, req control.OpenRequest) (blockDevice, error) {
	attach := blockFrontends[req.Frontend]
	if attach == nil {
		return nil, nil
	}
	dev, err := attach(d, fe, v, req)
	if err != nil {
		return nil, fmt.Errorf("frontend %s: %w", req.Frontend, err)
	}
	d.log.Info("block device", "minor", fe.minor, "device", dev.Path(), "recovered", req.Recover)
	return dev, nil
}
