package wire

import "syscall"

// NBD error values: the protocol fixes them, equal to Linux's errnos.
const (
	EPERM     uint32 = 1
	EIO       uint32 = 5
	ENOMEM    uint32 = 12
	EINVAL    uint32 = 22
	ENOSPC    uint32 = 28
	EOVERFLOW uint32 = 75
	ENOTSUP   uint32 = 95
	ESHUTDOWN uint32 = 108
)

// errnos pairs the NBD errors with the errnos they stand for, the errno
// a client reports first; a server reports the others by the nearest
// error the protocol has.
var errnos = [...]struct {
	code  uint32
	errno syscall.Errno
}{
	{EPERM, syscall.EPERM}, {EPERM, syscall.EROFS}, {EPERM, syscall.EACCES},
	{EIO, syscall.EIO},
	{ENOMEM, syscall.ENOMEM},
	{EINVAL, syscall.EINVAL},
	{ENOSPC, syscall.ENOSPC}, {ENOSPC, syscall.EDQUOT}, {ENOSPC, syscall.EFBIG},
	{EOVERFLOW, syscall.EOVERFLOW},
	{ENOTSUP, syscall.EOPNOTSUPP},
	{ESHUTDOWN, syscall.ESHUTDOWN},
}

// ErrorCode is the NBD error a server reports for errno; errnos the
// protocol has no value for become EIO.
func ErrorCode(errno syscall.Errno) uint32 {
	if errno == 0 {
		return 0
	}
	for _, e := range errnos {
		if e.errno == errno {
			return e.code
		}
	}
	return EIO
}

// Errno is the errno a client reports for an NBD error; a client treats
// values it does not know as EINVAL, as the protocol asks.
func Errno(code uint32) syscall.Errno {
	for _, e := range errnos {
		if e.code == code {
			return e.errno
		}
	}
	return syscall.EINVAL
}
