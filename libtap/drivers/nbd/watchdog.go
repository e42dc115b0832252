package nbd

import (
	"fmt"
	"os"
	"time"
)

// ticksPerTimeout is how finely the watchdog measures a request's age:
// a request is given up between 1 and 1+1/ticksPerTimeout I/O timeouts
// after it was sent.
const ticksPerTimeout = 4

// watchdog gives the connections up when a request has waited longer
// than the I/O timeout for its reply. It ticks instead of each request
// arming a deadline: the data path pays only for reading a counter.
// Given up, each connection's reader fails what is in flight with EIO,
// and a send blocked on a full socket returns.
func (d *Disk) watchdog() {
	t := time.NewTicker(max(d.ioTimeout/ticksPerTimeout, time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
		}
		now := d.epoch.Add(1)
		for _, c := range d.conns {
			if c.overdue(now) {
				d.fail(fmt.Errorf("no reply within %v: %w", d.ioTimeout, os.ErrDeadlineExceeded))
				return
			}
		}
	}
}

// overdue reports whether a request in flight was sent more than
// ticksPerTimeout ticks before now.
func (c *conn) overdue(now uint32) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := range c.slots {
		if s := &c.slots[i]; s.busy && now-s.epoch > ticksPerTimeout {
			return true
		}
	}
	return false
}
