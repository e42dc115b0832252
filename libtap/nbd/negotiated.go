package nbd

import (
	"fmt"
	"net"
)

// ServeNegotiated serves nc, a connection already in the transmission
// phase, as the export name: the Linux kernel's client (nbd.ko) attached
// over netlink negotiates nothing, it is told the export's size and
// KernelFlags and sends requests at once, taking simple replies only.
// It returns when the connection ends: the client disconnects (or its
// socket closes), Remove(name) or Shutdown drains it.
func (s *Server) ServeNegotiated(nc net.Conn, name string) error {
	c := newConn(s, nc, false)
	e, ok := s.lookup(c, name, true)
	if !ok {
		nc.Close()
		return fmt.Errorf("no export %q", name)
	}
	c.exp, c.flags = e, KernelFlags(e)
	if !s.track(c) {
		nc.Close()
		return net.ErrClosed
	}
	defer s.untrack(c)
	c.serve()
	return nil
}

// KernelFlags are e's transmission flags for a client that negotiated
// nothing, so uses simple replies (no DF): what nbd.ko is given as its
// server flags.
func KernelFlags(e Export) uint16 {
	var c conn // structured replies off
	return c.transmissionFlags(e)
}
