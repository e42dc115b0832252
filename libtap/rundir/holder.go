package rundir

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// A marker names the tapdisk holding it: its pid and a newline, written
// once the lock is taken and cleared before the lock is given up. So a
// marker whose lock is free but which still names a pid was held by a
// tapdisk that died (the kernel dropped its lock; nobody cleared the
// name). That is how tap-ctl finds the tapdisk of a minor, live or
// dead, rather than taking whichever tapdisk answers for it, and whose
// sockets Free removes.

// writeHolder names pid as f's holder; f's lock must be ours.
func writeHolder(f *os.File, pid int) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(pid)+"\n"), 0)
	return err
}

// readHolder is the pid f names, 0 if none. A name without its newline
// is none: it is being written, or its writer died writing it (before
// it made any socket).
func readHolder(f *os.File) (int, error) {
	var buf [24]byte
	n, err := f.ReadAt(buf[:], 0)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, fmt.Errorf("read marker: %w", err)
	}
	digits, complete := strings.CutSuffix(string(buf[:n]), "\n")
	pid, err := strconv.Atoi(digits)
	if !complete || err != nil || pid <= 0 {
		return 0, nil
	}
	return pid, nil
}

// Holder says who holds minor: a live tapdisk (Held, with its pid), one
// that died holding it (not Held, its pid), or nobody (Pid 0: the minor
// is only allocated). fs.ErrNotExist if the minor is not allocated.
func (d Dir) Holder(minor int) (Minor, error) {
	if err := checkMinor(minor); err != nil {
		return Minor{}, err
	}
	deadline := time.Now().Add(lockPatience)
	for {
		m, err := d.probe(minor)
		if err != nil || !m.Held || m.Pid != 0 || time.Now().After(deadline) {
			return m, err
		}
		// Held and nameless: its holder is writing its pid.
		time.Sleep(lockRetryGap)
	}
}

// probe reads a marker's holder and tests its lock with a shared lock,
// which other probes do not contend for. Once the shared lock is ours,
// the name is stable: only a holder of the exclusive lock writes it.
func (d Dir) probe(minor int) (Minor, error) {
	f, err := os.Open(d.Marker(minor))
	if errors.Is(err, fs.ErrNotExist) {
		return Minor{}, fmt.Errorf("minor %d is not allocated: %w", minor, err)
	}
	if err != nil {
		return Minor{}, fmt.Errorf("probe minor %d: %w", minor, err)
	}
	defer f.Close()
	m := Minor{N: minor}
	err = unix.Flock(int(f.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	switch {
	case errors.Is(err, unix.EWOULDBLOCK):
		m.Held = true
	case err != nil:
		return Minor{}, fmt.Errorf("probe minor %d: %w", minor, err)
	}
	if m.Pid, err = readHolder(f); err != nil {
		return Minor{}, fmt.Errorf("probe minor %d: %w", minor, err)
	}
	return m, nil
}
