// Package sockpair connects two Unix stream sockets to each other, for
// tests that drive a server's connection code without a listening
// socket or a file in the file system (fuzz targets run it per input).
// Each end is a *net.UnixConn: peer credentials and half-closes work as
// on an accepted connection.
package sockpair

import (
	"fmt"
	"net"
	"os"
	"syscall"
)

// New returns the two ends of a new socket pair.
func New() (a, b *net.UnixConn, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("socketpair: %w", err)
	}
	var ends [2]*net.UnixConn
	for i, fd := range fds {
		f := os.NewFile(uintptr(fd), "socketpair")
		c, err := net.FileConn(f) // a duplicate of f's descriptor
		f.Close()
		if err != nil {
			if i == 1 {
				ends[0].Close()
			} else {
				syscall.Close(fds[1])
			}
			return nil, nil, fmt.Errorf("socketpair: %w", err)
		}
		ends[i] = c.(*net.UnixConn)
	}
	return ends[0], ends[1], nil
}
