package main

import (
	"syscall"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/kernelnbd"
	"gotap.dev/libtap/vbd"
)

// attachKernelNBD makes v /dev/nbdN: the kernel's NBD client with
// --nbd-conns connections to fe's server. The kernel gives up on a
// request after the request timeout, and then waits as long for a new
// connection (a tapdisk restarted with --recover) before failing
// requests: a restart within that time is no I/O error.
func attachKernelNBD(d *daemon, fe *frontends, v *vbd.VBD, req control.OpenRequest) (blockDevice, error) {
	timeout := req.RequestTimeout()
	if timeout == 0 {
		timeout = defaultRequestTimeout
	}
	opts := kernelnbd.Options{Index: -1, Conns: d.nbdConns, Timeout: timeout, DeadConnTimeout: timeout}
	if req.Device != "" {
		n, err := kernelnbd.ParsePath(req.Device)
		if err != nil {
			return nil, control.Errorf(syscall.EINVAL, "%v", err)
		}
		opts.Index = n
	}
	var dev *kernelnbd.Device
	var err error
	if req.Recover {
		dev, err = kernelnbd.Recover(fe.srv, exportName(fe.minor), v, opts.Index, opts)
	} else {
		dev, err = kernelnbd.Attach(fe.srv, exportName(fe.minor), v, opts)
	}
	if err != nil { // no typed nil in the interface
		return nil, err
	}
	return dev, nil
}

// defaultRequestTimeout is a request's timeout when the open gives none:
// the scheduler's (blktap's) 120 s.
const defaultRequestTimeout = 120 * time.Second
