package main

import (
	"errors"
	"io/fs"
	"syscall"

	"gotap.dev/libvhd"
	"gotap.dev/libvhd/imagelock"
)

// errnoOf is the exit status of a failed command: the errno blktap's
// vhd-util returns for that failure (its scripts test it: SM retries on
// EIO and EAGAIN, takes ENOENT for a missing image). The table is in
// doc.go; the first match wins.
func errnoOf(err error) syscall.Errno {
	var ce codedError
	if errors.As(err, &ce) {
		return ce.errno
	}
	for _, m := range errnoTable {
		for _, target := range m.errs {
			if errors.Is(err, target) {
				return m.errno
			}
		}
	}
	var errno syscall.Errno
	var fe *libvhd.FormatError
	switch {
	case errors.As(err, &errno):
		return errno // the system's own answer: ENOENT, EACCES, ENOSPC, EIO…
	case errors.As(err, &fe):
		return syscall.EINVAL
	case errors.Is(err, fs.ErrNotExist):
		return syscall.ENOENT
	case errors.Is(err, fs.ErrPermission):
		return syscall.EACCES
	}
	return syscall.EIO
}

// errnoTable maps gotap's refusals to blktap's errnos, before the errno a
// refusal may carry (a lock's EBUSY is also an EAGAIN underneath).
var errnoTable = []struct {
	errno syscall.Errno
	errs  []error
}{
	{syscall.EBUSY, []error{imagelock.ErrLocked}},
	{syscall.EACCES, []error{libvhd.ErrParentRefused}},
	{syscall.ENOENT, []error{libvhd.ErrParentNotFound}},
	{syscall.ENOSPC, []error{libvhd.ErrChainTooDeep}}, // blktap's snapshot -l
	{syscall.ENOSYS, []error{libvhd.ErrNoBatmap}},     // blktap's marker without a batmap
	{syscall.EINVAL, []error{
		libvhd.ErrTooLarge, libvhd.ErrNotDifferencing, libvhd.ErrFixedImage,
		libvhd.ErrCutsData, libvhd.ErrOutOfRange, libvhd.ErrParentUUID,
		libvhd.ErrFileType, libvhd.ErrNotAncestor, libvhd.ErrShrink,
		libvhd.ErrNoRoom, libvhd.ErrJournal, libvhd.ErrNotDisabled,
		libvhd.ErrPartialSector, libvhd.ErrEmptyDisk,
	}},
	{syscall.EEXIST, []error{fs.ErrExist}},
}
