// Package disk is the narrow interface every image driver implements
// (aio, vhd, ram, nbd), in the spirit of nbdkit's plugin table: size,
// capabilities, vectored read and write, flush, trim, write-zeroes and
// the allocation map. Range checks happen once, above the drivers (in the
// VBD), so drivers stay small.
package disk

import (
	"errors"
	"syscall"
)

// Driver is an open image chain.
type Driver interface {
	Size() int64
	Caps() Caps
	// ReadV fills the buffers, in order, from the disk at off.
	ReadV(bufs [][]byte, off int64) error
	// WriteV writes the buffers, in order, at off; with fua (only when
	// Caps().FUA is Native) the data is durable when WriteV returns.
	WriteV(bufs [][]byte, off int64, fua bool) error
	// Flush makes every completed write durable.
	Flush() error
	// Trim may discard the range (reads may then return anything the
	// driver documents; ours return zeros or the parent's data).
	Trim(off, n int64) error
	// WriteZeroes makes the range read as zeros. noHole: keep it
	// allocated; fastZero: fail with ENOTSUP rather than write slowly.
	WriteZeroes(off, n int64, noHole, fastZero bool) error
	// Extents appends the allocation map of [off, off+n) to dst.
	Extents(dst []Extent, off, n int64) ([]Extent, error)
	Close() error
}

// Support is how a driver provides a feature, in nbdkit's three states.
type Support uint8

const (
	None     Support = iota // not at all: the feature is not offered
	Emulated                // through other calls (FUA: a flush after the write)
	Native                  // by the driver itself
)

var supportNames = [...]string{"none", "emulated", "native"}

// NativeIf is Native when ok, else None.
func NativeIf(ok bool) Support {
	if ok {
		return Native
	}
	return None
}

func (s Support) String() string {
	if int(s) < len(supportNames) {
		return supportNames[s]
	}
	return "support?"
}

// Caps are what a driver can do. The VBD reads them once per opened
// chain (at open and at resume) and applies the rules they imply, so a
// driver never checks them itself.
type Caps struct {
	ReadOnly bool
	// FUA: Native honours WriteV's fua; Emulated means the VBD makes a
	// FUA write durable with a flush after it, and WriteV never sees fua.
	FUA      Support
	Trim     Support // Native: Trim frees space; None: Trim is a no-op
	Zero     Support // Native: WriteZeroes is cheaper than writing zeros
	FastZero Support // Native: WriteZeroes honours fastZero
	// Direct reports O_DIRECT (aio): shown in stats and logs.
	Direct bool
	// Engine is how the driver reaches the kernel, where it has a choice
	// (aio: "io_uring", or "syscalls" where io_uring is unavailable):
	// shown in stats and logs.
	Engine string
	// InMemory: the contents live only in this process (ram), so closing
	// the driver loses them; a VBD keeps such a driver open across a pause.
	InMemory bool
}

// Extent is a run of the disk: data, or a hole that reads as zeros.
type Extent struct {
	Offset, Length int64
	Hole           bool
}

// AppendExtent appends e to dst, merging it with the last extent when
// they touch and are of the same kind.
func AppendExtent(dst []Extent, e Extent) []Extent {
	if e.Length <= 0 {
		return dst
	}
	if k := len(dst) - 1; k >= 0 && dst[k].Hole == e.Hole && dst[k].Offset+dst[k].Length == e.Offset {
		dst[k].Length += e.Length
		return dst
	}
	return append(dst, e)
}

// Errors drivers return, as errnos so that every frontend can report them.
var (
	ErrReadOnly   = syscall.EROFS
	ErrNotSupp    = syscall.EOPNOTSUPP
	ErrOutOfRange = syscall.ENOSPC
	ErrMediumType = syscall.EMEDIUMTYPE
)

// TotalLen is the byte count of a vector.
func TotalLen(bufs [][]byte) int64 {
	var n int64
	for _, b := range bufs {
		n += int64(len(b))
	}
	return n
}

// Errno is the errno a frontend reports for err: the one it carries, or
// EIO.
func Errno(err error) syscall.Errno {
	var e syscall.Errno
	if errors.As(err, &e) {
		return e
	}
	return syscall.EIO
}
