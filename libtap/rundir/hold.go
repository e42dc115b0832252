package rundir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
)

// Hold is a tapdisk's claim on a minor: the marker's exclusive lock and
// its pid in the marker, kept until Release (or until the process dies).
type Hold struct {
	f       *os.File
	minor   int
	path    string
	created bool // the marker was not allocated: Release removes it
}

// maxHoldTries bounds the restarts when the marker is freed under Hold.
const maxHoldTries = 10

// Hold locks minor's marker for the calling process, creating it when
// nobody allocated the minor (a tapdisk told to open a minor tap-ctl
// did not allocate). EBUSY if another process holds it, or if a tapdisk
// that died held it: its sockets may still be there, and tap-ctl
// destroy or free must clean them up before the minor serves again.
func (d Dir) Hold(minor int) (*Hold, error) {
	if err := checkMinor(minor); err != nil {
		return nil, err
	}
	if err := d.Create(); err != nil {
		return nil, err
	}
	for range maxHoldTries {
		h, err := d.tryHold(minor, true)
		if err != nil {
			return nil, fmt.Errorf("hold minor %d: %w", minor, err)
		}
		if h != nil {
			return h, nil
		}
	}
	return nil, fmt.Errorf("hold minor %d: marker keeps being freed: %w", minor, fs.ErrNotExist)
}

// HoldNew allocates the lowest free minor and holds it: a minor that is
// reserved, held, or was left by a tapdisk that died is not free. The
// marker is created exclusively, as Allocate does, so the two never
// hand out the same minor; Release frees it again.
func (d Dir) HoldNew() (*Hold, error) {
	if err := d.Create(); err != nil {
		return nil, err
	}
	for range maxHoldTries {
		var h *Hold
		_, err := firstFree(func(n int) (err error) {
			h, err = d.tryHold(n, false)
			return err
		})
		if err != nil {
			return nil, err
		}
		if h != nil {
			return h, nil
		}
	}
	return nil, fmt.Errorf("allocate minor: markers keep being freed: %w", fs.ErrNotExist)
}

// tryHold creates minor's marker (or, if mayExist, opens the one
// there), locks it and writes our pid in it. nil, nil when the marker
// was freed before it was locked, so the caller starts again.
func (d Dir) tryHold(minor int, mayExist bool) (*Hold, error) {
	path := d.Marker(minor)
	created := true
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if mayExist && errors.Is(err, fs.ErrExist) {
		created = false
		f, err = os.OpenFile(path, os.O_RDWR, 0)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	locked, err := lockMarker(f, path)
	if err == nil && locked && !created {
		err = refuseDeadHolder(f)
	}
	if err != nil || !locked {
		f.Close()
		return nil, err
	}
	h := &Hold{f: f, minor: minor, path: path, created: created}
	if err := writeHolder(f, os.Getpid()); err != nil {
		return nil, errors.Join(fmt.Errorf("write marker: %w", err), h.Release())
	}
	return h, nil
}

// refuseDeadHolder fails with EBUSY if the marker, whose lock is ours,
// names a tapdisk: one that died holding it.
func refuseDeadHolder(f *os.File) error {
	dead, err := readHolder(f)
	if err != nil || dead == 0 {
		return err
	}
	return fmt.Errorf("tapdisk %d died holding it; tap-ctl destroy cleans up: %w", dead, syscall.EBUSY)
}

// Minor is the minor held.
func (h *Hold) Minor() int { return h.minor }

// Release gives up the minor. The marker is cleared of our pid before
// the lock goes, so that nobody taking the lock thinks we died; a marker
// Hold created is removed too, as nobody allocated that minor, while an
// allocated one stays allocated until Free.
func (h *Hold) Release() error {
	err := h.f.Truncate(0)
	if h.created {
		err = errors.Join(err, removeIfThere(h.path))
	}
	return errors.Join(err, h.f.Close())
}
