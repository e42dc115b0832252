package control

import (
	"fmt"
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// peerCred reads who is at the other end of a connection (SO_PEERCRED:
// the credentials the peer had when it connected).
func peerCred(c *net.UnixConn) (*unix.Ucred, error) {
	raw, err := c.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return nil, fmt.Errorf("peer credentials: %w", err)
	}
	if credErr != nil {
		return nil, fmt.Errorf("peer credentials: %w", credErr)
	}
	return cred, nil
}

// allowPeer lets in root and the daemon's own uid. The socket's 0600
// mode already keeps others out; this holds even if the mode is changed
// or the socket is passed on.
func allowPeer(peer *unix.Ucred, uid int) error {
	if peer.Uid == 0 || int(peer.Uid) == uid {
		return nil
	}
	return Errorf(syscall.EPERM, "peer uid %d (pid %d) may not control a tapdisk of uid %d", peer.Uid, peer.Pid, uid)
}
