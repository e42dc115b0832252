// Package imagelock keeps two processes from writing one image, with the
// byte-range locks QEMU uses, so that gotap and QEMU (qemu-img, qemu-nbd,
// a VM) refuse each other's images as they refuse their own.
//
// QEMU's scheme, as QEMU 7 and later apply it to a file: open file
// description locks (F_OFD_SETLK, shared, one byte each) at 100+p for
// every permission p the opener uses, and at 200+p for every permission
// it will not share with others. An opener conflicts with another when
// one uses a permission the other will not share; it tests that with
// F_OFD_GETLK, which only sees other open file descriptions' locks. The
// locks go with the file description, so closing the image (a paused
// VBD, a finished command, a killed process) releases them.
package imagelock

import (
	"errors"
	"fmt"
	"os"
	"syscall"

	"golang.org/x/sys/unix"
)

// QEMU's permission bits (include/block/block-common.h), as lock offsets.
const (
	permConsistentRead = 0
	permWrite          = 1
	permResize         = 3

	permBase   = 100 // "I use permission p"
	sharedBase = 200 // "I do not share permission p"
)

// Mode is what the opener does with the image.
type Mode int

const (
	// Shared reads a chain's parent or a read-only disk: writers and
	// resizers are refused (a parent must not change under its children),
	// other readers are welcome.
	Shared Mode = iota + 1
	// Exclusive writes the image: nobody else may write or resize it, nor
	// read it while counting on it not to change (qemu-img info without
	// -U, a parent's reader).
	Exclusive
)

// For is the mode of an opener that writes, or only reads (!write): what
// every image and raw disk is locked with.
func For(write bool) Mode {
	if write {
		return Exclusive
	}
	return Shared
}

// lockSet is the permissions a mode uses and the ones it does not share;
// the sets are QEMU's for a format driver's file: a reader uses
// consistent-read and does not share write or resize; a writer also
// uses write and resize.
func (m Mode) lockSet() (use, deny []int) {
	deny = []int{permWrite, permResize}
	if m == Exclusive {
		return []int{permConsistentRead, permWrite, permResize}, deny
	}
	return []int{permConsistentRead}, deny
}

// ErrLocked is the refusal: another process uses the image in a way that
// conflicts. The errors Lock returns also match syscall.EBUSY.
var ErrLocked = errors.New("image is in use by another process")

// lockedError names the image and the conflict.
type lockedError struct {
	path string
	what string
}

func (e *lockedError) Error() string {
	return fmt.Sprintf("%s: %v (%s)", e.path, ErrLocked, e.what)
}

// Unwrap gives both ErrLocked and EBUSY, the errno tools exit with
// (errors.As finds the errno).
func (e *lockedError) Unwrap() []error { return []error{ErrLocked, syscall.EBUSY} }

// Lock takes mode's locks on f and checks that no other open file
// description conflicts; on a conflict it releases what it took and
// returns an error matching ErrLocked. The locks last until f is closed.
func Lock(f *os.File, mode Mode) error {
	use, deny := mode.lockSet()
	fd := int(f.Fd())
	offs := mode.offsets()
	for _, off := range offs {
		if err := setLock(fd, unix.F_RDLCK, off); err != nil {
			unlock(fd, offs)
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EACCES) {
				return &lockedError{path: f.Name(), what: "a lock byte is held exclusively"}
			}
			return fmt.Errorf("lock %s: %w", f.Name(), err)
		}
	}
	// A permission we use must be shared by everyone; nobody may use one
	// we do not share.
	check := func(base int64, perms []int, what string) error {
		for _, p := range perms {
			conflict, err := conflicts(fd, base+int64(p))
			if err != nil {
				return fmt.Errorf("test lock of %s: %w", f.Name(), err)
			}
			if conflict {
				return &lockedError{path: f.Name(), what: fmt.Sprintf(what, permName(p))}
			}
		}
		return nil
	}
	err := check(sharedBase, use, "another process does not share %q")
	if err == nil {
		err = check(permBase, deny, "another process holds %q")
	}
	if err != nil {
		unlock(fd, offs)
	}
	return err
}

// offsets are the lock bytes of mode's permissions.
func (m Mode) offsets() []int64 {
	use, deny := m.lockSet()
	var offs []int64
	for _, p := range use {
		offs = append(offs, permBase+int64(p))
	}
	for _, p := range deny {
		offs = append(offs, sharedBase+int64(p))
	}
	return offs
}

// Unlock releases every lock Lock may have taken on f, in either mode;
// f stays open. A process holding an image through two open file
// descriptions (a reader's, and the writer's it opens to upgrade) must
// release one's locks before the other can lock: they conflict as two
// processes' would.
func Unlock(f *os.File) error {
	for _, off := range Exclusive.offsets() {
		if err := setLock(int(f.Fd()), unix.F_UNLCK, off); err != nil {
			return fmt.Errorf("unlock %s: %w", f.Name(), err)
		}
	}
	return nil
}

func permName(p int) string {
	switch p {
	case permConsistentRead:
		return "consistent read"
	case permWrite:
		return "write"
	case permResize:
		return "resize"
	}
	return fmt.Sprintf("permission %d", p)
}

func setLock(fd int, typ int16, off int64) error {
	lk := unix.Flock_t{Type: typ, Whence: 0, Start: off, Len: 1}
	return unix.FcntlFlock(uintptr(fd), unix.F_OFD_SETLK, &lk)
}

func unlock(fd int, offs []int64) {
	for _, off := range offs {
		setLock(fd, unix.F_UNLCK, off)
	}
}

// conflicts reports whether another open file description holds a lock
// on the byte at off (our own read locks never conflict with ourselves).
func conflicts(fd int, off int64) (bool, error) {
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: 0, Start: off, Len: 1}
	if err := unix.FcntlFlock(uintptr(fd), unix.F_OFD_GETLK, &lk); err != nil {
		return false, err
	}
	return lk.Type != unix.F_UNLCK, nil
}

func (m Mode) String() string {
	switch m {
	case Shared:
		return "shared"
	case Exclusive:
		return "exclusive"
	}
	return fmt.Sprintf("Mode(%d)", int(m))
}
