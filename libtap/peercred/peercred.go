// Package peercred checks who is at the other end of a Unix socket. Every
// tapdisk socket (control and NBD) follows one rule: root and the
// daemon's own uid get in, nobody else. The sockets' 0600 mode already
// keeps others out; the check still holds when the mode is loosened or a
// connected socket is handed on.
package peercred

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

// Of reads the credentials the peer had when it connected (SO_PEERCRED).
// c must be a Unix socket: on any other, Linux answers with the overflow
// uid rather than an error.
func Of(c syscall.Conn) (*unix.Ucred, error) {
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

// Allow lets in root and uid; anyone else is refused with an error that
// wraps EPERM and names the peer.
func Allow(peer *unix.Ucred, uid int) error {
	if peer.Uid == 0 || int(peer.Uid) == uid {
		return nil
	}
	return fmt.Errorf("peer uid %d (pid %d) refused: only root and uid %d may connect: %w", peer.Uid, peer.Pid, uid, syscall.EPERM)
}

// Check reads c's peer and applies Allow.
func Check(c syscall.Conn, uid int) error {
	peer, err := Of(c)
	if err != nil {
		return err
	}
	return Allow(peer, uid)
}
