// Package ram is the `ram:SIZE` driver: a disk in memory, lost at close.
// For tests, benchmarks and scratch space.
package ram

import (
	"fmt"
	"sync"

	"gotap.dev/libtap/disk"
	"gotap.dev/libvhd"
)

// Disk is a RAM disk.
type Disk struct {
	mu  sync.RWMutex
	mem []byte
	ro  bool
}

// Open makes a RAM disk of the size named by arg ("64M", "1G"; a bare
// number is MB, as everywhere in blktap).
func Open(arg string, readOnly bool) (*Disk, error) {
	n, err := libvhd.ParseSize(arg, 1<<20)
	if err != nil {
		return nil, fmt.Errorf("ram: %w", err)
	}
	if n <= 0 || n%512 != 0 {
		return nil, fmt.Errorf("ram: size %d is not a positive multiple of 512", n)
	}
	return &Disk{mem: make([]byte, n), ro: readOnly}, nil
}

func (d *Disk) Size() int64 { return int64(len(d.mem)) }
func (d *Disk) Caps() disk.Caps {
	return disk.Caps{ReadOnly: d.ro, Trim: true, Zero: true, FastZero: true}
}

func (d *Disk) ReadV(bufs [][]byte, off int64) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	for _, b := range bufs {
		off += int64(copy(b, d.mem[off:]))
	}
	return nil
}

func (d *Disk) WriteV(bufs [][]byte, off int64, _ bool) error {
	if d.ro {
		return disk.ErrReadOnly
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, b := range bufs {
		off += int64(copy(d.mem[off:], b))
	}
	return nil
}

func (d *Disk) Flush() error { return nil }

func (d *Disk) Trim(off, n int64) error { return d.WriteZeroes(off, n, false, false) }

func (d *Disk) WriteZeroes(off, n int64, _, _ bool) error {
	if d.ro {
		return disk.ErrReadOnly
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	clear(d.mem[off : off+n])
	return nil
}

func (d *Disk) Extents(dst []disk.Extent, off, n int64) ([]disk.Extent, error) {
	return disk.AppendExtent(dst, disk.Extent{Offset: off, Length: n}), nil
}

func (d *Disk) Close() error {
	d.mem = nil
	return nil
}
