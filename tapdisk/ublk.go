package main

import (
	"runtime"
	"syscall"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/ublk"
	"gotap.dev/libtap/vbd"
)

// maxUblkQueues caps a ublk device's queues, each an OS thread of
// tapdisk's (the kernel grants at most one per CPU).
const maxUblkQueues = 4

// attachUblk makes v /dev/ublkbN served through ublk_drv: a queue per
// CPU (up to maxUblkQueues), their tags sharing v's ring. With
// req.Recover it takes over the device a dead tapdisk left waiting: the
// kernel holds its requests for as long as it takes (no timeout).
func attachUblk(d *daemon, fe *frontends, v *vbd.VBD, req control.OpenRequest) (blockDevice, error) {
	queues := min(runtime.NumCPU(), maxUblkQueues)
	opts := ublk.Options{Index: -1, Queues: queues, Depth: min(64, v.Ring().Cap()/queues), Logger: d.log.With("minor", fe.minor)}
	if req.Device != "" {
		n, err := ublk.ParsePath(req.Device)
		if err != nil {
			return nil, control.Errorf(syscall.EINVAL, "%v", err)
		}
		opts.Index = n
	}
	var dev *ublk.Device
	var err error
	if req.Recover {
		dev, err = ublk.Recover(v, opts.Index, opts)
	} else {
		dev, err = ublk.Attach(v, opts)
	}
	if err != nil { // no typed nil in the interface
		return nil, err
	}
	return dev, nil
}
