package rundir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// Hold is a tapdisk's claim on a minor: the marker's exclusive lock,
// kept until Release (or until the process dies).
type Hold struct {
	f       *os.File
	path    string
	created bool // the marker was not allocated: Release removes it
}

// maxHoldTries bounds the restarts when the marker is freed under Hold.
const maxHoldTries = 10

// Hold locks minor's marker for the calling process, creating it when
// nobody allocated the minor (a tapdisk given images on its command
// line). EBUSY if another process holds it.
func (d Dir) Hold(minor int) (*Hold, error) {
	if err := checkMinor(minor); err != nil {
		return nil, err
	}
	if err := d.Create(); err != nil {
		return nil, err
	}
	path := d.Marker(minor)
	for range maxHoldTries {
		h, err := tryHold(path)
		if err != nil {
			return nil, fmt.Errorf("hold minor %d: %w", minor, err)
		}
		if h != nil {
			return h, nil
		}
	}
	return nil, fmt.Errorf("hold minor %d: marker keeps being freed: %w", minor, fs.ErrNotExist)
}

// tryHold opens and locks path; nil, nil when the marker was removed
// meanwhile (by Free), so the caller starts again.
func tryHold(path string) (*Hold, error) {
	created := true
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if errors.Is(err, fs.ErrExist) {
		created = false
		f, err = os.Open(path)
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if err := lockExclusive(f); err != nil {
		f.Close()
		return nil, err
	}
	// The lock is only worth something on the file the path names now.
	opened, err1 := f.Stat()
	named, err2 := os.Stat(path)
	if err1 != nil || err2 != nil || !os.SameFile(opened, named) {
		f.Close()
		return nil, nil
	}
	return &Hold{f: f, path: path, created: created}, nil
}

// Release drops the lock; a marker Hold created is removed, as nobody
// allocated that minor. An allocated minor stays allocated until Free.
func (h *Hold) Release() error {
	var err error
	if h.created {
		if rerr := os.Remove(h.path); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = rerr
		}
	}
	return errors.Join(err, h.f.Close())
}
