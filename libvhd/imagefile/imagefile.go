// Package imagefile opens the files disks live in (VHD images, their
// parents, raw files and block devices) so that naming the wrong kind of
// file can never hang the caller: a FIFO opened for reading waits for a
// writer, and a crafted locator or a mistyped path must not stop a
// tapdisk or a vhd-util for good.
package imagefile

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// ErrType: a FIFO, socket, character device or directory was named where
// a disk was expected. The errors Open returns for it also match EINVAL,
// the errno tapdisk answers with.
var ErrType = errors.New("not a regular file or block device")

// Open opens name with flag (os.O_RDONLY, os.O_RDWR, with O_DIRECT,
// O_CREATE and the like) and perm, with O_NONBLOCK so that the open itself cannot wait, then
// refuses anything but a regular file or a block device, judged on the
// open descriptor so that a file swapped in after a check by name cannot
// slip through. The file returned is in blocking mode.
func Open(name string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(name, flag|unix.O_NONBLOCK, perm)
	if errors.Is(err, unix.ENXIO) || errors.Is(err, unix.EISDIR) {
		// What opening a socket, or a directory for writing, says; say
		// what the file is instead.
		if st, serr := os.Stat(name); serr == nil && Kind(st.Mode()) != "" {
			return nil, typeError(name, st.Mode())
		}
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if Kind(st.Mode()) != "" {
		f.Close()
		return nil, typeError(name, st.Mode())
	}
	// Fd puts the descriptor back in blocking mode, the mode regular
	// files and block devices are read in anyway.
	f.Fd()
	return f, nil
}

// Size is the size of an open regular file or block device (whose Stat
// says 0).
func Size(f *os.File) (int64, error) { return f.Seek(0, io.SeekEnd) }

// Kind names what a file of mode m is when it cannot hold a disk; "" for
// a regular file or a block device.
func Kind(m fs.FileMode) string {
	switch {
	case m.IsRegular(), IsBlockDevice(m):
		return ""
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m.IsDir():
		return "directory"
	}
	return "special file"
}

// IsBlockDevice reports whether m is a block device's mode.
func IsBlockDevice(m fs.FileMode) bool {
	return m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0
}

func typeError(name string, m fs.FileMode) error {
	return &os.PathError{Op: "open", Path: name, Err: typeErr(Kind(m))}
}

// typeErr is ErrType for a kind of file, and EINVAL.
type typeErr string

func (k typeErr) Error() string { return fmt.Sprintf("%v: a %s", ErrType, string(k)) }
func (typeErr) Unwrap() []error { return []error{ErrType, unix.EINVAL} }
