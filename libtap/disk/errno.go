package disk

import (
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// ErrnoByName is the errno named name ("EIO", "ENOENT"), for the errnos
// Linux defines; false if name is none of them.
func ErrnoByName(name string) (syscall.Errno, bool) {
	e, ok := errnoNames()[name]
	return e, ok
}

var errnoNames = sync.OnceValue(func() map[string]syscall.Errno {
	m := make(map[string]syscall.Errno)
	for e := syscall.Errno(1); e < 256; e++ {
		if n := unix.ErrnoName(e); n != "" {
			m[n] = e
		}
	}
	return m
})
