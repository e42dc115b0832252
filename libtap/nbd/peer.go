package nbd

import (
	"errors"
	"net"
	"syscall"
	"time"

	"gotap.dev/libtap/peercred"
)

// msgRefused is logged for a client turned away, by its credentials or
// by TLS: at most once per refusedEvery, then a count.
const (
	msgRefused   = "nbd client refused"
	refusedEvery = 10 * time.Second
)

// logRefused logs a client turned away, rate-limited.
func (s *Server) logRefused(remote net.Addr, err error) {
	if s.refused.Allow() {
		s.log.Warn(msgRefused, "remote", remote, "err", err)
	}
}

// admit decides, before a client sees a byte, whether it may talk to
// us: on a Unix socket only root and the server's uid may, the control
// socket's rule, so a loosened mode or a socket handed on opens nothing.
// A refused connection is logged and closed. TCP clients are left to
// TLS (needTLS).
func (s *Server) admit(nc net.Conn) bool {
	if nc.LocalAddr().Network() != "unix" {
		return true
	}
	err := errors.New("no peer credentials on this connection")
	if sc, ok := nc.(syscall.Conn); ok {
		err = peercred.Check(sc, s.uid)
	}
	if err == nil {
		return true
	}
	s.logRefused(nc.RemoteAddr(), err)
	nc.Close()
	return false
}
