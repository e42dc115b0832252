// Package delay is the delay filter (`delay:OPTIONS:…`): it holds the
// requests its trigger chooses for a while before passing them on, to
// see how a stack behaves on a slow disk. Options, each a duration
// (default 0: not delayed):
//
//	read=D write=D flush=D trim=D zero=D
//	rate, range, file   which requests (see filter.Trigger)
//
// A delay is a plain sleep of the worker running the request: a pause
// waits for the delays under way, so keep them short (milliseconds).
package delay

import (
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/filter"
)

// Config is the delay filter's options, parsed.
type Config struct {
	read, write, flush, trim, zero time.Duration
	when                           filter.Trigger
}

// Parse reads the options of a delay layer.
func Parse(options string) (Config, error) {
	o, err := filter.ParseOptions("delay", options)
	if err != nil {
		return Config{}, err
	}
	c := Config{
		read: o.Duration("read", 0), write: o.Duration("write", 0), flush: o.Duration("flush", 0),
		trim: o.Duration("trim", 0), zero: o.Duration("zero", 0),
		when: filter.ParseTrigger(o),
	}
	return c, o.Err()
}

// Filter delays the requests its trigger chooses.
type Filter struct {
	disk.Driver
	cfg Config
}

// New puts a delay filter over next.
func New(next disk.Driver, cfg Config) *Filter { return &Filter{Driver: next, cfg: cfg} }

// Unwrap is the driver under the filter.
func (f *Filter) Unwrap() disk.Driver { return f.Driver }

// hold sleeps d if the request on [off, off+n) is chosen. time.Sleep
// reuses its goroutine's timer: nothing is allocated.
func (f *Filter) hold(d time.Duration, off, n int64) {
	if d > 0 && f.cfg.when.Fires(off, n) {
		time.Sleep(d)
	}
}

func (f *Filter) ReadV(bufs [][]byte, off int64) error {
	f.hold(f.cfg.read, off, disk.TotalLen(bufs))
	return f.Driver.ReadV(bufs, off)
}

func (f *Filter) WriteV(bufs [][]byte, off int64, fua bool) error {
	f.hold(f.cfg.write, off, disk.TotalLen(bufs))
	return f.Driver.WriteV(bufs, off, fua)
}

func (f *Filter) Flush() error {
	f.hold(f.cfg.flush, 0, 0)
	return f.Driver.Flush()
}

func (f *Filter) Trim(off, n int64) error {
	f.hold(f.cfg.trim, off, n)
	return f.Driver.Trim(off, n)
}

func (f *Filter) WriteZeroes(off, n int64, noHole, fastZero bool) error {
	f.hold(f.cfg.zero, off, n)
	return f.Driver.WriteZeroes(off, n, noHole, fastZero)
}
