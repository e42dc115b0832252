// Package drivers opens an image chain from its blktap `type:path` name.
package drivers

import (
	"fmt"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/aio"
	"gotap.dev/libtap/drivers/nbd"
	"gotap.dev/libtap/drivers/ram"
	"gotap.dev/libtap/drivers/vhd"
)

// Options apply to every driver that can honour them.
type Options struct {
	ReadOnly bool
	NoDirect bool // aio: buffered I/O (tap-ctl open -D)
	// vhd: keep new metadata in memory until a flush (tapdisk
	// --defer-metadata; see libvhd.OpenOptions.DeferMetadata).
	DeferMetadata bool
	// vhd: make written data durable at least this often (0: never
	// unasked); see vhd.Options.
	FlushInterval time.Duration
	// vhd: folders allowed to hold parents beside the child's own
	// (tapdisk --parent-dir; see libvhd.OpenOptions.ParentDirs).
	ParentDirs []string
}

// Open opens spec ("vhd:/srv/a.vhd", "aio:/dev/sdb", "ram:64M",
// "nbd:unix:/run/x.sock").
func Open(spec string, opts Options) (disk.Driver, error) {
	s, err := disk.ParseSpec(spec)
	if err != nil {
		return nil, err
	}
	switch s.Type {
	case "aio":
		return aio.Open(s.Path, aio.Options{ReadOnly: opts.ReadOnly, NoDirect: opts.NoDirect})
	case "vhd":
		return vhd.Open(s.Path, vhd.Options{ReadOnly: opts.ReadOnly, DeferMetadata: opts.DeferMetadata, FlushInterval: opts.FlushInterval, ParentDirs: opts.ParentDirs})
	case "ram":
		return ram.Open(s.Path, opts.ReadOnly)
	case "nbd":
		return nbd.Open(s.Path, opts.ReadOnly)
	}
	return nil, fmt.Errorf("image %q: driver %q not available", spec, s.Type)
}
