package filter

import (
	"errors"
	"math/rand/v2"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
	"gotap.dev/libvhd"
)

// Trigger chooses the requests a fault or a delay hits, as nbdkit's
// error filter does: those overlapping a byte range (every one if no
// range), while a file exists (always if no file), each with a
// probability. Options:
//
//	rate=P          probability, 0 to 1 (default 1: every request chosen)
//	range=FROM-TO   bytes [FROM, TO) ("1M-2M"); flushes have no offset,
//	                so a range never chooses them
//	file=PATH       only while PATH exists: create it to start, remove it
//	                to stop
type Trigger struct {
	rate  float64
	span  [2]int64 // [from, to); to 0: no range
	file  []byte   // NUL-terminated; nil: no file
	never bool     // rate 0: nothing to check
}

// ParseTrigger takes the trigger's options from o.
func ParseTrigger(o *Options) Trigger {
	t := Trigger{
		rate: o.Probability("rate", 1),
		span: take(o, "range", [2]int64{}, parseRange),
	}
	if f := o.String("file", ""); f != "" {
		t.file = append([]byte(f), 0)
	}
	t.never = t.rate == 0
	return t
}

func parseRange(s string) ([2]int64, error) {
	a, b, ok := strings.Cut(s, "-")
	if !ok {
		return [2]int64{}, errors.New("want FROM-TO")
	}
	from, err := libvhd.ParseSize(a, 1)
	if err != nil {
		return [2]int64{}, err
	}
	to, err := libvhd.ParseSize(b, 1)
	if err != nil {
		return [2]int64{}, err
	}
	if to <= from {
		return [2]int64{}, errors.New("TO must be past FROM")
	}
	return [2]int64{from, to}, nil
}

// Fires reports whether the request on [off, off+n) is chosen. It
// allocates nothing.
func (t *Trigger) Fires(off, n int64) bool {
	switch {
	case t.never:
		return false
	case t.span[1] > 0 && (off+n <= t.span[0] || off >= t.span[1]):
		return false
	case t.file != nil && !exists(t.file):
		return false
	}
	return t.rate >= 1 || rand.Float64() < t.rate
}

// atFDCWD is AT_FDCWD (-100) as the syscall takes it.
var atFDCWD = unix.AT_FDCWD

// exists tests a NUL-terminated path with faccessat(2) directly: the
// string conversions of os.Stat and unix.Access would allocate on every
// request.
func exists(path []byte) bool {
	_, _, errno := unix.Syscall6(unix.SYS_FACCESSAT, uintptr(atFDCWD), uintptr(unsafe.Pointer(&path[0])), unix.F_OK, 0, 0, 0)
	return errno == 0
}
