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
// tapdisk/tapdisk-<minor> exists: Allocate and HoldNew create it
// exclusively (O_EXCL), so concurrent allocations never get the same
// minor, and Free removes it. The tapdisk serving a minor holds an
// exclusive flock on the marker (Hold) for as long as it does, and
// writes its pid in it (holder.go); the kernel drops the lock when the
// process dies, so a marker whose lock is free has no live tapdisk: it
// is only allocated, or left by one that was killed, whose pid it names.
//
// Probes (Holder, Minors) take a shared lock for an instant; Hold and
// Free take the exclusive one and retry for lockPatience, so a probe
// running at the same moment does not make them fail.

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
	// Pid is the holder's pid; when not Held, the pid of a tapdisk that
	// died holding the minor. 0: nobody holds or held it.
	Pid int
}

// Allocate reserves minor, or the lowest free minor if minor < 0, and
// returns it: EEXIST if that minor is allocated, ENOSPC if all are.
func (d Dir) Allocate(minor int) (int, error) {
	if err := d.Create(); err != nil {
		return 0, err
	}
	if minor < 0 {
		return firstFree(d.createMarker)
	}
	if err := checkMinor(minor); err != nil {
		return 0, err
	}
	return minor, d.createMarker(minor)
}

// firstFree calls claim on minors 0, 1, … until one is not allocated
// already (claim fails with fs.ErrExist): the lowest free minor.
func firstFree(claim func(minor int) error) (int, error) {
	for n := range MaxMinors {
		if err := claim(n); !errors.Is(err, fs.ErrExist) {
			return n, err
		}
	}
	return 0, fmt.Errorf("allocate minor: all %d are allocated: %w", MaxMinors, syscall.ENOSPC)
}

func (d Dir) createMarker(minor int) error {
	f, err := os.OpenFile(d.Marker(minor), os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("allocate minor %d: %w", minor, err)
	}
	return f.Close()
}

// Free releases an allocated minor, and what a tapdisk that died holding
// it left: its NBD socket for the minor, and its control socket once
// nothing else of it is left. ENOENT if the minor is not allocated,
// EBUSY while a live tapdisk holds it. Only the marker's holder is
// cleaned up after, under the marker's lock: never another tapdisk.
func (d Dir) Free(minor int) error {
	if err := checkMinor(minor); err != nil {
		return err
	}
	for range maxHoldTries {
		done, err := d.tryFree(minor)
		if err != nil {
			return fmt.Errorf("free minor %d: %w", minor, err)
		}
		if done {
			return nil
		}
	}
	return fmt.Errorf("free minor %d: marker keeps being replaced: %w", minor, syscall.EBUSY)
}

// tryFree is Free; false, nil when the marker was replaced before it
// was locked, so the caller starts again.
func (d Dir) tryFree(minor int) (bool, error) {
	path := d.Marker(minor)
	f, err := os.Open(path)
	if err != nil {
		return false, err
	}
	defer f.Close()
	locked, err := lockMarker(f, path)
	if err != nil {
		return false, fmt.Errorf("in use by a tapdisk: %w", err)
	}
	if !locked {
		return false, nil
	}
	// The lock is ours, so whoever the marker names died holding it;
	// while we keep the lock nobody else can take the minor, so the
	// sockets named after that pid and this minor are the dead one's.
	dead, err := readHolder(f)
	if err != nil {
		return false, err
	}
	if dead != 0 {
		if err := removeIfThere(d.NBD(dead, minor)); err != nil {
			return false, err
		}
	}
	if err := removeIfThere(path); err != nil {
		return false, err
	}
	if dead != 0 {
		return true, d.removeDeadCtl(dead)
	}
	return true, nil
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
		m, err := d.Holder(n)
		if errors.Is(err, fs.ErrNotExist) {
			continue // freed meanwhile
		}
		if err != nil {
			return nil, err
		}
		minors = append(minors, m)
	}
	slices.SortFunc(minors, func(a, b Minor) int { return a.N - b.N })
	return minors, nil
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

// lockMarker takes f's exclusive lock and reports whether path still
// names f: a lock on a marker freed (removed) meanwhile is worth
// nothing, and the caller starts again.
func lockMarker(f *os.File, path string) (bool, error) {
	if err := lockExclusive(f); err != nil {
		return false, err
	}
	opened, err1 := f.Stat()
	named, err2 := os.Stat(path)
	return err1 == nil && err2 == nil && os.SameFile(opened, named), nil
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
