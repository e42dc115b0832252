// Package vhd is the `vhd:PATH` driver: a VHD chain through libvhd.
//
// Like aio, it opens the chain's files with O_DIRECT, as blktap's vhd
// driver did, unless told not to (tap-ctl open -D) or the file system
// refuses it (Caps().Direct says), and moves their data through an
// io_uring of the disk's own, or through syscalls where io_uring is
// unavailable or $GOTAP_NO_IO_URING is 1 (Caps().Engine says); see
// package fileio.
package vhd

import (
	"errors"
	"fmt"
	"syscall"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/fileio"
	"gotap.dev/libtap/ring"
	"gotap.dev/libvhd"
)

// Disk is an open VHD chain.
type Disk struct {
	im         *libvhd.Image
	fs         *fsys
	ops        []op // StartV's, one per entry of the queue
	lateWrites chan lateWrite
	lateDone   chan struct{} // closed when setLateBits ends
	flusher    *flusher      // nil: no periodic flush
	parentDirs []string      // the parent policy's, for Commit's relink
}

// Options tune Open.
type Options struct {
	ReadOnly bool
	// DeferMetadata: see libvhd.OpenOptions.DeferMetadata.
	DeferMetadata bool
	// FlushInterval bounds how long written data (and, with
	// DeferMetadata, the metadata that makes it reachable) stays only in
	// memory when no client flushes: what a power cut, or with
	// DeferMetadata a crash, can take. 0: no periodic flush.
	FlushInterval time.Duration
	// ParentDirs: see libvhd.OpenOptions.ParentDirs.
	ParentDirs []string
	NoDirect   bool // buffered I/O even where O_DIRECT works (tap-ctl open -D)
	// Buffers is memory that carries the requests' data (the VBD ring's
	// slots), registered with io_uring; it must outlive the Disk.
	Buffers []byte
}

// Open opens the chain whose leaf is path, locked as libvhd locks it:
// written exclusively, parents shared (EBUSY if another process
// conflicts). A parent the parent policy refuses fails with EACCES.
func Open(path string, opts Options) (*Disk, error) {
	fs := &fsys{q: fileio.NewQueue(opts.Buffers), direct: !opts.NoDirect}
	im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: opts.ReadOnly, DeferMetadata: opts.DeferMetadata, ParentDirs: opts.ParentDirs, FS: fs})
	if err != nil && fs.q != nil {
		fs.q.Close()
	}
	if errors.Is(err, libvhd.ErrParentRefused) {
		return nil, fmt.Errorf("vhd: %w (%w)", err, syscall.EACCES)
	}
	if err != nil {
		return nil, fmt.Errorf("vhd: %w", err)
	}
	d := &Disk{im: im, fs: fs, parentDirs: opts.ParentDirs}
	if fs.q != nil {
		d.ops = make([]op, fs.q.Entries())
		for i := range d.ops {
			d.ops[i].d = d
		}
		d.lateWrites = make(chan lateWrite, len(d.ops)) // never full
		d.lateDone = make(chan struct{})
		go d.setLateBits()
	}
	if !opts.ReadOnly && opts.FlushInterval > 0 {
		d.flusher = startFlusher(im, opts.FlushInterval)
	}
	return d, nil
}

// Image is the open leaf (for stats: chain, warnings).
func (d *Disk) Image() *libvhd.Image { return d.im }

func (d *Disk) Size() int64 { return d.im.Size() }

// Caps: trimming cannot free VHD blocks safely, and zeroing allocated
// blocks costs a write; only ranges no layer holds are zero for free.
// FUA is a flush after the write, which the VBD does.
func (d *Disk) Caps() disk.Caps {
	return disk.Caps{ReadOnly: d.im.ReadOnly(), FUA: disk.Emulated, Zero: disk.Native, FastZero: disk.Native,
		Direct: d.fs.isDirect(), Engine: fileio.Engine(d.fs.q)}
}

func (d *Disk) ReadV(bufs [][]byte, off int64) error {
	for _, b := range bufs {
		if _, err := d.im.ReadAt(b, off); err != nil {
			return errno(err)
		}
		off += int64(len(b))
	}
	return nil
}

func (d *Disk) WriteV(bufs [][]byte, off int64, _ bool) error {
	for _, b := range bufs {
		if _, err := d.im.WriteAt(b, off); err != nil {
			return errno(err)
		}
		off += int64(len(b))
	}
	return nil
}

func (d *Disk) Flush() error { return errno(d.im.Flush()) }

// Trim is advisory; a VHD never gives a block back while in use.
func (d *Disk) Trim(off, n int64) error { return nil }

// WriteZeroes skips ranges no layer of the chain holds (they read as
// zeros already) and writes zeros over the rest, or refuses that with
// ENOTSUP when fastZero asks.
func (d *Disk) WriteZeroes(off, n int64, _, fastZero bool) error {
	ext, err := d.im.AppendExtents(nil, off, n)
	if err != nil {
		return errno(err)
	}
	for _, e := range ext {
		if e.Layer == libvhd.Unallocated {
			continue
		}
		if fastZero {
			return disk.ErrNotSupp
		}
		if err := d.writeZeros(e.Offset, e.Length); err != nil {
			return err
		}
	}
	return nil
}

var zeroChunk = ring.AlignedBuffer(1 << 20)

func (d *Disk) writeZeros(off, n int64) error {
	for n > 0 {
		c := min(n, int64(len(zeroChunk)))
		if _, err := d.im.WriteAt(zeroChunk[:c], off); err != nil {
			return errno(err)
		}
		off, n = off+c, n-c
	}
	return nil
}

// Extents maps the chain: data in any layer is data; the rest a hole.
func (d *Disk) Extents(dst []disk.Extent, off, n int64) ([]disk.Extent, error) {
	ext, err := d.im.AppendExtents(nil, off, n)
	if err != nil {
		return dst, errno(err)
	}
	for _, e := range ext {
		dst = disk.AppendExtent(dst, disk.Extent{Offset: e.Offset, Length: e.Length, Hole: e.Layer == libvhd.Unallocated})
	}
	return dst, nil
}

func (d *Disk) Close() error {
	if d.flusher != nil {
		d.flusher.stop()
	}
	err := d.im.Close()
	if d.fs.q != nil {
		// Every write late at Close was handed over before Close could
		// flush (which needed the reaper that hands them).
		close(d.lateWrites)
		<-d.lateDone
		d.fs.q.Close()
	}
	return err
}

// errno makes libvhd's sentinel errors carry the errno frontends report
// (see disk.Errno); system errors carry theirs already.
func errno(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, libvhd.ErrReadOnly):
		return fmt.Errorf("%w: %w", disk.ErrReadOnly, err)
	case errors.Is(err, libvhd.ErrOutOfRange):
		return fmt.Errorf("%w: %w", disk.ErrOutOfRange, err)
	}
	return err
}
