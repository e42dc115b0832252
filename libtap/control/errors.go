package control

import (
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
	"gotap.dev/libtap/disk"
)

// Error is a failed operation as the protocol carries it: an errno and
// a message. It unwraps to the errno, so errors.Is(err, syscall.EBUSY)
// and disk.Errno work on what a Client returns.
type Error struct {
	Errno syscall.Errno
	Msg   string
}

func (e *Error) Error() string { return e.Msg }
func (e *Error) Unwrap() error { return e.Errno }

// Errorf makes an *Error; a Handler returns one to choose the errno.
func Errorf(errno syscall.Errno, format string, args ...any) error {
	return &Error{Errno: errno, Msg: fmt.Sprintf(format, args...)}
}

// asError turns any handler error into an *Error: the errno it wraps
// (an *Error's, a syscall.Errno, or EIO if none) and its full message.
func asError(err error) *Error {
	return &Error{Errno: disk.Errno(err), Msg: err.Error()}
}

// errnoName is the symbolic name of an errno ("ENOENT").
func errnoName(e syscall.Errno) string {
	if n := unix.ErrnoName(e); n != "" {
		return n
	}
	return fmt.Sprintf("errno%d", int(e))
}

// errnoValue parses a name from errnoName; an unknown one is EIO, so a
// client always has an errno to report.
func errnoValue(name string) syscall.Errno {
	if e, ok := disk.ErrnoByName(name); ok {
		return e
	}
	return syscall.EIO
}
