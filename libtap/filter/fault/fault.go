// Package fault is the error filter (`error:OPTIONS:…`): it fails the
// requests its trigger chooses with an errno instead of passing them on,
// for tests and for users testing how their own stack copes. Options:
//
//	errno=NAME      the errno (default EIO): EIO, EAGAIN, ENOSPC, …
//	ops=OP+OP…      which operations may fail, of read, write, flush,
//	                trim and zero (default all of them)
//	rate, range, file   which requests (see filter.Trigger)
//
// A failed request never reaches the layer below: a failed write leaves
// the disk as it was. EAGAIN, EBUSY and EINTR are retried by the
// scheduler as blktap retries them, each retry meeting the trigger again.
package fault

import (
	"fmt"
	"strings"
	"syscall"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/filter"
)

// op is a set of operations.
type op uint8

const (
	opRead op = 1 << iota
	opWrite
	opFlush
	opTrim
	opZero
)

var opNames = map[string]op{"read": opRead, "write": opWrite, "flush": opFlush, "trim": opTrim, "zero": opZero}

const allOps = opRead | opWrite | opFlush | opTrim | opZero

// Config is the error filter's options, parsed.
type Config struct {
	Errno syscall.Errno
	ops   op
	when  filter.Trigger
}

// Parse reads the options of an error layer.
func Parse(options string) (Config, error) {
	o, err := filter.ParseOptions("error", options)
	if err != nil {
		return Config{}, err
	}
	c := Config{when: filter.ParseTrigger(o)}
	name := o.String("errno", "EIO")
	ops := o.String("ops", "")
	if err := o.Err(); err != nil {
		return Config{}, err
	}
	var ok bool
	if c.Errno, ok = disk.ErrnoByName(name); !ok {
		return Config{}, fmt.Errorf("error: errno=%s: not an errno name (EIO, EAGAIN, ENOSPC…): %w", name, syscall.EINVAL)
	}
	if c.ops, err = parseOps(ops); err != nil {
		return Config{}, err
	}
	return c, nil
}

func parseOps(s string) (op, error) {
	if s == "" {
		return allOps, nil
	}
	var set op
	for _, name := range strings.Split(s, "+") {
		o, ok := opNames[name]
		if !ok {
			return 0, fmt.Errorf("error: ops=%s: %q is not read, write, flush, trim or zero: %w", s, name, syscall.EINVAL)
		}
		set |= o
	}
	return set, nil
}

// Filter fails the requests its trigger chooses.
type Filter struct {
	disk.Driver
	cfg Config
	// err is built once: returning it allocates nothing, and its text
	// says where it came from in logs and recent_errors.
	err error
}

// New puts an error filter over next.
func New(next disk.Driver, cfg Config) *Filter {
	return &Filter{Driver: next, cfg: cfg, err: fmt.Errorf("injected by the error filter: %w", cfg.Errno)}
}

// Unwrap is the driver under the filter.
func (f *Filter) Unwrap() disk.Driver { return f.Driver }

// fails reports whether the request of kind o on [off, off+n) fails.
func (f *Filter) fails(o op, off, n int64) bool {
	return f.cfg.ops&o != 0 && f.cfg.when.Fires(off, n)
}

func (f *Filter) ReadV(bufs [][]byte, off int64) error {
	if f.fails(opRead, off, disk.TotalLen(bufs)) {
		return f.err
	}
	return f.Driver.ReadV(bufs, off)
}

func (f *Filter) WriteV(bufs [][]byte, off int64, fua bool) error {
	if f.fails(opWrite, off, disk.TotalLen(bufs)) {
		return f.err
	}
	return f.Driver.WriteV(bufs, off, fua)
}

func (f *Filter) Flush() error {
	if f.fails(opFlush, 0, 0) {
		return f.err
	}
	return f.Driver.Flush()
}

func (f *Filter) Trim(off, n int64) error {
	if f.fails(opTrim, off, n) {
		return f.err
	}
	return f.Driver.Trim(off, n)
}

func (f *Filter) WriteZeroes(off, n int64, noHole, fastZero bool) error {
	if f.fails(opZero, off, n) {
		return f.err
	}
	return f.Driver.WriteZeroes(off, n, noHole, fastZero)
}
