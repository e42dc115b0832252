// Package drivers opens an image chain from its blktap `type:path` name,
// with the filter layers a spec stacks over it (see disk.ParseChain).
package drivers

import (
	"fmt"
	"syscall"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/aio"
	"gotap.dev/libtap/drivers/nbd"
	"gotap.dev/libtap/drivers/ram"
	"gotap.dev/libtap/drivers/vhd"
	"gotap.dev/libtap/filter/delay"
	"gotap.dev/libtap/filter/fault"
	"gotap.dev/libtap/filter/valve"
)

// Options apply to every driver that can honour them.
type Options struct {
	ReadOnly bool
	NoDirect bool // aio, vhd: buffered I/O (tap-ctl open -D)
	// Buffers: aio and vhd register them with io_uring (the VBD ring's
	// slots).
	Buffers []byte
	// vhd: keep new metadata in memory until a flush (tapdisk
	// --defer-metadata; see libvhd.OpenOptions.DeferMetadata).
	DeferMetadata bool
	// vhd: make written data durable at least this often (0: never
	// unasked); see vhd.Options.
	FlushInterval time.Duration
	// vhd: folders allowed to hold parents beside the child's own
	// (tapdisk --parent-dir; see libvhd.OpenOptions.ParentDirs).
	ParentDirs []string
	// Valve is the budget a valve layer draws on: the VBD's, so that its
	// limits outlive this open (nil: the layer makes its own).
	Valve *valve.Budget
}

// Open opens spec ("vhd:/srv/a.vhd", "aio:/dev/sdb", "ram:64M",
// "nbd:unix:/run/x.sock") and stacks its filter layers over it
// ("valve:rbps=20M:vhd:/srv/a.vhd"). Every layer's options are checked
// before the image is opened.
func Open(spec string, opts Options) (disk.Driver, error) {
	c, err := disk.ParseChain(spec)
	if err != nil {
		return nil, err
	}
	wraps := make([]Wrap, len(c.Layers))
	valves := 0
	for i, l := range c.Layers {
		if l.Filter == "valve" {
			valves++
		}
		if wraps[i], err = Layer(l, opts); err != nil {
			return nil, fmt.Errorf("image %q: %w", spec, err)
		}
	}
	if valves > 1 {
		// Both would draw on the one budget of the VBD: twice the wait.
		return nil, fmt.Errorf("image %q: one valve layer at most: %w", spec, syscall.EINVAL)
	}
	drv, err := openImage(c.Image, opts)
	if err != nil {
		return nil, err
	}
	for i := len(wraps) - 1; i >= 0; i-- {
		drv = wraps[i](drv)
	}
	return drv, nil
}

// Wrap puts a filter over the driver below it.
type Wrap func(next disk.Driver) disk.Driver

// Layer checks a filter layer's options and returns what stacks it.
func Layer(l disk.Layer, opts Options) (Wrap, error) {
	switch l.Filter {
	case "valve":
		limits, err := valve.Parse(l.Options)
		return func(next disk.Driver) disk.Driver { return valve.New(next, opts.Valve, limits) }, err
	case "error":
		cfg, err := fault.Parse(l.Options)
		return func(next disk.Driver) disk.Driver { return fault.New(next, cfg) }, err
	case "delay":
		cfg, err := delay.Parse(l.Options)
		return func(next disk.Driver) disk.Driver { return delay.New(next, cfg) }, err
	}
	return nil, fmt.Errorf("filter %q not available: %w", l.Filter, syscall.EINVAL)
}

func openImage(s disk.Spec, opts Options) (disk.Driver, error) {
	switch s.Type {
	case "aio":
		return aio.Open(s.Path, aio.Options{ReadOnly: opts.ReadOnly, NoDirect: opts.NoDirect, Buffers: opts.Buffers})
	case "vhd":
		return vhd.Open(s.Path, vhd.Options{ReadOnly: opts.ReadOnly, DeferMetadata: opts.DeferMetadata, FlushInterval: opts.FlushInterval, ParentDirs: opts.ParentDirs,
			NoDirect: opts.NoDirect, Buffers: opts.Buffers})
	case "ram":
		return ram.Open(s.Path, opts.ReadOnly)
	case "nbd":
		return nbd.Open(s.Path, opts.ReadOnly)
	}
	return nil, fmt.Errorf("image %q: driver %q not available", s, s.Type)
}
