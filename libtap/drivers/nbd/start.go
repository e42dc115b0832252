package nbd

import "gotap.dev/libtap/nbd/wire"

// StartV sends a read or write and returns without waiting: done hears
// the outcome on the connection's reader (the scheduler's Starter, which
// spares a worker goroutine and two hand-offs per request). With more,
// the request is held back to go out in one write with those that follow
// (until one without more, or Unplug). Only a request that goes out
// whole, as one NBD request, is started, and only while its connection
// has a free slot and is not broken; false sends the rest the waiting
// way (ReadV, WriteV), which splits and reports.
func (d *Disk) StartV(write bool, bufs [][]byte, off int64, fua, more bool, done func(error)) bool {
	if len(bufs) != 1 || int64(len(bufs[0])) > d.maxReq {
		return false
	}
	c := d.pick()
	var i uint8
	select {
	case i = <-c.free:
	default:
		return false
	}
	r := call{typ: wire.CmdRead, off: off, n: int64(len(bufs[0])), in: bufs[0]}
	if write {
		r.typ, r.in, r.out = wire.CmdWrite, nil, bufs[0]
		if fua {
			r.flags = wire.CmdFlagFUA
		}
	}
	c.load.Add(1)
	cookie, err := c.register(i, &r, done)
	if err != nil {
		c.load.Add(-1)
		c.free <- i
		return false
	}
	c.send(cookie, &r, more)
	if !more && len(d.conns) > 1 {
		d.Unplug() // what the burst held back on the other connections
	}
	return true
}

// Unplug writes the requests StartV held back.
func (d *Disk) Unplug() {
	for _, c := range d.conns {
		c.unplug()
	}
}
