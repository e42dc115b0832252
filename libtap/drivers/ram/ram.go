// Package ram is blktap's `ram:` driver: a disk in this process's
// memory, lost at close. `ram:SIZE` ("64M", "1G"; a bare number is MB,
// as everywhere in blktap) starts as zeros; `ram:FILE` (anything that is
// not a size: `ram:/srv/seed.img`, `ram:./64M`) starts as a copy of a
// regular file or block device, which is read once and never written.
// For tests, benchmarks and scratch space.
//
// The memory is mapped outside the Go heap (so a large disk neither
// slows the garbage collector nor lingers after Close: munmap gives it
// back at once) and committed at Open, page by page, before the disk is
// served: a disk accepted can never run the process out of memory later,
// however it is written. Open first checks that the memory is free
// (memory.go), and refuses with ENOMEM otherwise.
package ram

import (
	"errors"
	"fmt"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"

	"gotap.dev/libtap/disk"
	"gotap.dev/libvhd"
)

// Disk is a RAM disk.
type Disk struct {
	mu   sync.RWMutex
	mem  []byte // nil once closed
	size int64
	ro   bool
}

// host is where Open reads the free memory; tests point it elsewhere.
var host = system{root: "/"}

// committing serialises the check of free memory with the commitment of
// what it allowed, so two disks opening at once never both count the
// same free memory.
var committing sync.Mutex

// Open makes the RAM disk arg names: a size or a file (see the package
// comment).
func Open(arg string, readOnly bool) (*Disk, error) {
	mem, err := open(arg)
	if err != nil {
		return nil, fmt.Errorf("ram: %w", err)
	}
	return &Disk{mem: mem, size: int64(len(mem)), ro: readOnly}, nil
}

func open(arg string) ([]byte, error) {
	size, err := libvhd.ParseSize(arg, 1<<20)
	if err != nil {
		return load(arg, err)
	}
	if size <= 0 || size%512 != 0 {
		return nil, fmt.Errorf("size %d is not a positive multiple of 512: %w", size, syscall.EINVAL)
	}
	committing.Lock()
	defer committing.Unlock()
	if err := host.checkFree(size); err != nil {
		return nil, err
	}
	mem, err := mapMemory(size)
	if err != nil {
		return nil, err
	}
	if err := commit(mem); err != nil {
		unix.Munmap(mem)
		return nil, err
	}
	return mem, nil
}

// mapMemory maps size bytes of anonymous memory.
func mapMemory(size int64) ([]byte, error) {
	if int64(int(size)) != size {
		return nil, fmt.Errorf("size %d: %w", size, syscall.ENOMEM)
	}
	mem, err := unix.Mmap(-1, 0, int(size), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS)
	if err != nil {
		return nil, fmt.Errorf("map %d bytes: %w", size, err)
	}
	return mem, nil
}

// commit makes the kernel give mem real pages now, rather than at each
// first write (when a lack of memory could only end in the OOM killer).
func commit(mem []byte) error {
	err := unix.Madvise(mem, unix.MADV_POPULATE_WRITE)
	if errors.Is(err, unix.EINVAL) { // before Linux 5.14: touch each page
		pg := unix.Getpagesize()
		for i := 0; i < len(mem); i += pg {
			mem[i] = 0
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("commit %s of memory: %w", mib(int64(len(mem))), errors.Join(err, syscall.ENOMEM))
	}
	return nil
}

func (d *Disk) Size() int64 { return d.size }

// Caps: the memory stays the disk's until Close, so trimming zeroes but
// frees nothing; a completed write is as durable as memory gets (FUA is
// native); InMemory tells the VBD that closing the disk loses it.
func (d *Disk) Caps() disk.Caps {
	return disk.Caps{ReadOnly: d.ro, FUA: disk.Native, Trim: disk.Emulated, Zero: disk.Native, FastZero: disk.Native, InMemory: true}
}

func (d *Disk) ReadV(bufs [][]byte, off int64) error {
	d.mu.RLock()
	defer d.mu.RUnlock()
	if d.mem == nil {
		return syscall.ENXIO
	}
	for _, b := range bufs {
		off += int64(copy(b, d.mem[off:]))
	}
	return nil
}

func (d *Disk) WriteV(bufs [][]byte, off int64, _ bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mem == nil {
		return syscall.ENXIO
	}
	for _, b := range bufs {
		off += int64(copy(d.mem[off:], b))
	}
	return nil
}

func (d *Disk) Flush() error { return nil }

func (d *Disk) Trim(off, n int64) error { return d.WriteZeroes(off, n, false, false) }

func (d *Disk) WriteZeroes(off, n int64, _, _ bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mem == nil {
		return syscall.ENXIO
	}
	clear(d.mem[off : off+n])
	return nil
}

func (d *Disk) Extents(dst []disk.Extent, off, n int64) ([]disk.Extent, error) {
	return disk.AppendExtent(dst, disk.Extent{Offset: off, Length: n}), nil
}

// Close gives the memory back; the disk's contents are gone.
func (d *Disk) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.mem == nil {
		return nil
	}
	err := unix.Munmap(d.mem)
	d.mem = nil
	return err
}
