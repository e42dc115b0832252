// Package filter is what the filter layers share. A filter is a
// disk.Driver that wraps another (its next) and overrides only the
// operations it changes: the rest reach next through the embedded
// interface untouched, as in nbdkit's filters. A spec stacks them over an
// image, outermost first, each as NAME:OPTIONS: (see disk.ParseChain and
// package drivers):
//
//	valve   rate limits, read and write, bytes and operations a second
//	        (package valve)
//	error   fails requests with an errno (package fault)
//	delay   holds requests for a while before passing them on (package
//	        delay)
//
// OPTIONS are key=value pairs separated by commas (none: "valve::…"). The
// error and delay filters choose the requests they hit with a Trigger.
package filter

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"gotap.dev/libvhd"
)

// Options are one layer's options, taken by key; Err reports the first
// value that did not parse, or a key nobody took.
type Options struct {
	layer string
	kv    map[string]string
	err   error
}

// ParseOptions splits "key=value,key=value" (empty: no options) for the
// layer named layer.
func ParseOptions(layer, s string) (*Options, error) {
	o := &Options{layer: layer, kv: map[string]string{}}
	if s == "" {
		return o, nil
	}
	for _, f := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, fmt.Errorf("%s: option %q: want KEY=VALUE: %w", layer, f, syscall.EINVAL)
		}
		if _, dup := o.kv[k]; dup {
			return nil, fmt.Errorf("%s: option %s given twice: %w", layer, k, syscall.EINVAL)
		}
		o.kv[k] = v
	}
	return o, nil
}

// take removes key and parses its value, keeping def when key is absent.
func take[T any](o *Options, key string, def T, parse func(string) (T, error)) T {
	s, ok := o.kv[key]
	if !ok {
		return def
	}
	delete(o.kv, key)
	v, err := parse(s)
	if err != nil && o.err == nil {
		o.err = fmt.Errorf("%s: %s=%s: %v: %w", o.layer, key, s, err, syscall.EINVAL)
	}
	return v
}

// String is key's value.
func (o *Options) String(key, def string) string {
	return take(o, key, def, func(s string) (string, error) { return s, nil })
}

// Size is a byte count: "20M", "4096", "1G" (powers of 1024).
func (o *Options) Size(key string, def int64) int64 {
	return take(o, key, def, func(s string) (int64, error) { return libvhd.ParseSize(s, 1) })
}

// Count is a whole number ≥ 0.
func (o *Options) Count(key string, def int64) int64 {
	return take(o, key, def, func(s string) (int64, error) {
		n, err := strconv.ParseInt(s, 10, 64)
		if err == nil && n < 0 {
			err = fmt.Errorf("negative")
		}
		return n, err
	})
}

// Duration is a time.Duration ≥ 0: "10ms", "2s".
func (o *Options) Duration(key string, def time.Duration) time.Duration {
	return take(o, key, def, func(s string) (time.Duration, error) {
		d, err := time.ParseDuration(s)
		if err == nil && d < 0 {
			err = fmt.Errorf("negative")
		}
		return d, err
	})
}

// Probability is a number from 0 to 1.
func (o *Options) Probability(key string, def float64) float64 {
	return take(o, key, def, func(s string) (float64, error) {
		p, err := strconv.ParseFloat(s, 64)
		if err == nil && !(p >= 0 && p <= 1) {
			err = fmt.Errorf("want 0 to 1")
		}
		return p, err
	})
}

// Err is the first value that did not parse, else the keys left over
// (unknown to the filter), else nil; its errno is EINVAL.
func (o *Options) Err() error {
	if o.err != nil {
		return o.err
	}
	if len(o.kv) > 0 {
		keys := slices.Sorted(maps.Keys(o.kv))
		return fmt.Errorf("%s: unknown option %s: %w", o.layer, strings.Join(keys, ", "), syscall.EINVAL)
	}
	return nil
}
