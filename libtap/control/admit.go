package control

import (
	"net"
	"time"

	"gotap.dev/libtap/peercred"
)

// msgRefused is logged for a peer of another uid (rate-limited).
const msgRefused = "control connection refused"

// refuseGrace bounds the write of a refusal, which the accept loop
// makes: a new connection's buffer has room for it, so it never waits in
// practice.
const refuseGrace = 100 * time.Millisecond

// admit lets in root and the daemon's uid. It runs in the accept loop,
// before a connection takes a slot: a peer of another uid gets its EPERM
// reply and is closed at once, so that a flood of them, from a user who
// found the socket opened up, never keeps tap-ctl out.
func (s *Server) admit(nc net.Conn) bool {
	c, ok := nc.(*net.UnixConn)
	if !ok {
		return false
	}
	err := peercred.Check(c, s.uid)
	if err == nil {
		return true
	}
	if s.refused.Allow() {
		s.log.Warn(msgRefused, "err", err)
	}
	c.SetWriteDeadline(time.Now().Add(refuseGrace))
	c.Write(encode(nil, nil, err))
	return false
}
