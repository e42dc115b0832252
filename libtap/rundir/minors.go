package rundir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Minor markers. A minor is allocated while its marker file
// tapdisk/tapdisk-<minor> exists: Allocate creates it exclusively
// (O_EXCL), so concurrent allocations never get the same minor, and Free
// removes it. The tapdisk serving a minor holds an exclusive flock on the
// marker (Hold) for as long as it does; the kernel drops the lock when
// the process dies, so a marker whose lock is free has no live tapdisk:
// it is only allocated, or left by one that was killed.
//
// Probes (Minors) take a shared lock for an instant; Hold and Free take
// the exclusive one and retry for lockPatience, so a probe running at
// the same moment does not make them fail.

// lockPatience is how long Hold and Free keep trying a lock that is
// taken: longer than any probe holds it, far shorter than a user waits.
const (
	lockPatience = 100 * time.Millisecond
	lockRetryGap = 5 * time.Millisecond
)

// Minor is one allocated minor.
type Minor struct {
	N    int
	Held bool // a live process (its tapdisk) holds the marker's lock
}

// Allocate reserves minor, or the lowest free minor if minor < 0, and
// returns it: EEXIST if that minor is allocated, ENOSPC if all are.
func (d Dir) Allocate(minor int) (int, error) {
	if err := d.Create(); err != nil {
		return 0, err
	}
	if minor >= 0 {
		if err := checkMinor(minor); err != nil {
			return 0, err
		}
		return minor, d.createMarker(minor)
	}
	for n := range MaxMinors {
		err := d.createMarker(n)
		if !errors.Is(err, fs.ErrExist) {
			return n, err
		}
	}
	return 0, fmt.Errorf("allocate minor: all %d are allocated: %w", MaxMinors, syscall.ENOSPC)
}

func (d Dir) createMarker(minor int) error {
	f, err := os.OpenFile(d.Marker(minor), os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("allocate minor %d: %w", minor, err)
	}
	return f.Close()
}

// Free releases an allocated minor: ENOENT if it is not allocated, EBUSY
// while a tapdisk holds it.
func (d Dir) Free(minor int) error {
	if err := checkMinor(minor); err != nil {
		return err
	}
	f, err := os.Open(d.Marker(minor))
	if err != nil {
		return fmt.Errorf("free minor %d: %w", minor, err)
	}
	defer f.Close()
	if err := lockExclusive(f); err != nil {
		return fmt.Errorf("free minor %d: in use by a tapdisk: %w", minor, err)
	}
	// Removed while locked: a Hold waiting on this file finds it gone
	// and starts again.
	if err := os.Remove(d.Marker(minor)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("free minor %d: %w", minor, err)
	}
	return nil
}

// Minors lists the allocated minors in order.
func (d Dir) Minors() ([]Minor, error) {
	entries, err := os.ReadDir(filepath.Join(string(d), "tapdisk"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list minors: %w", err)
	}
	var minors []Minor
	for _, e := range entries {
		n, ok := markerMinor(e.Name())
		if !ok {
			continue
		}
		held, err := d.held(n)
		if errors.Is(err, fs.ErrNotExist) {
			continue // freed meanwhile
		}
		if err != nil {
			return nil, err
		}
		minors = append(minors, Minor{N: n, Held: held})
	}
	slices.SortFunc(minors, func(a, b Minor) int { return a.N - b.N })
	return minors, nil
}

// held probes a marker's lock with a shared lock, which other probes
// do not contend for.
func (d Dir) held(minor int) (bool, error) {
	f, err := os.Open(d.Marker(minor))
	if err != nil {
		return false, fmt.Errorf("probe minor %d: %w", minor, err)
	}
	defer f.Close()
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if errors.Is(err, unix.EWOULDBLOCK) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("probe minor %d: %w", minor, err)
	}
	return false, nil
}

// markerMinor parses "tapdisk-<minor>".
func markerMinor(name string) (int, bool) {
	n, ok := numberAfter(name, "tapdisk-")
	return n, ok && n < MaxMinors
}

func checkMinor(minor int) error {
	if minor < 0 || minor >= MaxMinors {
		return fmt.Errorf("minor %d: want 0 to %d: %w", minor, MaxMinors-1, syscall.EINVAL)
	}
	return nil
}

// lockExclusive takes f's exclusive lock, retrying for lockPatience;
// EBUSY if another process keeps it.
func lockExclusive(f *os.File) error {
	deadline := time.Now().Add(lockPatience)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if !errors.Is(err, unix.EWOULDBLOCK) {
			return err
		}
		if time.Now().After(deadline) {
			return syscall.EBUSY
		}
		time.Sleep(lockRetryGap)
	}
}
