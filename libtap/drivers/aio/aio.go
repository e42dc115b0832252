// Package aio is the `aio:PATH` driver: a raw file or block device.
//
// It opens with O_DIRECT, as blktap does, so the guest's data is not
// cached twice; where the file system refuses O_DIRECT (tmpfs, some FUSE
// and network file systems) it falls back to buffered I/O and says so
// through Caps().Direct. Requests arrive 512-byte aligned in aligned
// buffers (see ring.Alignment), as O_DIRECT requires.
//
// Reads, writes and flushes go through an io_uring of the disk's own
// (package uring), so that many are in the kernel at once from one OS
// thread, the VBD ring's buffers registered as fixed buffers; where
// io_uring is unavailable (an old kernel, seccomp, the io_uring_disabled
// sysctl) or $GOTAP_NO_IO_URING is 1, through preadv and pwritev2, one
// blocked thread each. Caps().Engine says which.
package aio

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/fileio"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/uring"
	"gotap.dev/libvhd/imagefile"
	"gotap.dev/libvhd/imagelock"
)

// Disk is an open raw file or device.
type Disk struct {
	f       *os.File
	fd      int
	size    int64
	direct  bool
	ro      bool
	regular bool         // a regular file: holes, punch and SEEK_DATA work
	q       *uring.Queue // nil: the syscall path
	ops     []asyncOp    // StartV's, one per entry of q
}

// Options tune Open.
type Options struct {
	ReadOnly bool
	NoDirect bool // buffered I/O even where O_DIRECT works (tap-ctl open -D)
	// Buffers is memory that carries the requests' data (the VBD ring's
	// slots), registered with io_uring; it must outlive the Disk.
	Buffers []byte
}

// Open opens path.
func Open(path string, opts Options) (*Disk, error) {
	flag := os.O_RDWR
	if opts.ReadOnly {
		flag = os.O_RDONLY
	}
	f, direct, err := fileio.Open(path, flag, 0, !opts.NoDirect)
	if err != nil {
		return nil, fmt.Errorf("aio: %w", err)
	}
	// Locked as QEMU locks a raw disk, so neither a second tapdisk nor
	// qemu-nbd or a VM writes it at the same time.
	if err := imagelock.Lock(f, imagelock.For(!opts.ReadOnly)); err != nil {
		f.Close()
		return nil, fmt.Errorf("aio: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("aio: %w", err)
	}
	size, err := imagefile.Size(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("aio: size of %s: %w", path, err)
	}
	d := &Disk{f: f, fd: int(f.Fd()), size: size, direct: direct, ro: opts.ReadOnly, regular: st.Mode().IsRegular()}
	if d.q = fileio.NewQueue(opts.Buffers); d.q != nil {
		d.ops = make([]asyncOp, d.q.Entries())
		for i := range d.ops {
			d.ops[i].d = d
		}
	}
	return d, nil
}

func (d *Disk) Size() int64 { return d.size }

func (d *Disk) Caps() disk.Caps {
	file := disk.NativeIf(d.regular) // fallocate works on files only
	return disk.Caps{ReadOnly: d.ro, FUA: disk.Native, Trim: file, Zero: file, FastZero: file, Direct: d.direct, Engine: fileio.Engine(d.q)}
}

// ReadV reads with preadv (or its io_uring entry), resuming after short reads; bytes past the
// end of a file whose size is not a multiple of 512 read as zeros.
func (d *Disk) ReadV(bufs [][]byte, off int64) error {
	if d.q != nil {
		return fileio.RingIO(d.q, d.fd, false, bufs, off, 0)
	}
	for len(bufs) > 0 {
		n, err := unix.Preadv(d.fd, bufs, off)
		if err != nil {
			return err
		}
		if n == 0 {
			for _, b := range bufs {
				clear(b)
			}
			return nil
		}
		bufs, off = fileio.Advance(bufs, n), off+int64(n)
	}
	return nil
}

// WriteV writes with pwritev2 (or its io_uring entry); FUA is RWF_DSYNC
// on this one write.
func (d *Disk) WriteV(bufs [][]byte, off int64, fua bool) error {
	flags := 0
	if fua {
		flags = unix.RWF_DSYNC
	}
	if d.ringWrites() {
		return fileio.RingIO(d.q, d.fd, true, bufs, off, uint32(flags))
	}
	for len(bufs) > 0 {
		n, err := unix.Pwritev2(d.fd, bufs, off, flags)
		if err != nil {
			return err
		}
		bufs, off = fileio.Advance(bufs, n), off+int64(n)
	}
	return nil
}

func (d *Disk) Flush() error {
	if d.q != nil {
		return fileio.Flush(d.q, d.fd)
	}
	return unix.Fdatasync(d.fd)
}

func (d *Disk) Trim(off, n int64) error {
	if !d.regular {
		return nil // advisory: a device keeps its data
	}
	return unix.Fallocate(d.fd, unix.FALLOC_FL_PUNCH_HOLE|unix.FALLOC_FL_KEEP_SIZE, off, n)
}

func (d *Disk) WriteZeroes(off, n int64, noHole, fastZero bool) error {
	if d.regular {
		mode := uint32(unix.FALLOC_FL_PUNCH_HOLE | unix.FALLOC_FL_KEEP_SIZE)
		if noHole {
			mode = unix.FALLOC_FL_ZERO_RANGE | unix.FALLOC_FL_KEEP_SIZE
		}
		err := unix.Fallocate(d.fd, mode, off, n)
		if err == nil || !errors.Is(err, unix.EOPNOTSUPP) {
			return err
		}
	}
	if fastZero {
		return disk.ErrNotSupp
	}
	return d.writeZeroBuffers(off, n)
}

// zeroChunk is written repeatedly where the file system cannot zero a
// range itself.
var zeroChunk = ring.AlignedBuffer(1 << 20)

func (d *Disk) writeZeroBuffers(off, n int64) error {
	for n > 0 {
		c := min(n, int64(len(zeroChunk)))
		if _, err := unix.Pwrite(d.fd, zeroChunk[:c], off); err != nil {
			return err
		}
		off, n = off+c, n-c
	}
	return nil
}

// Extents reports holes of sparse files with SEEK_DATA/SEEK_HOLE; a
// device, or a file system without them, is all data.
func (d *Disk) Extents(dst []disk.Extent, off, n int64) ([]disk.Extent, error) {
	end := off + n
	if !d.regular {
		return disk.AppendExtent(dst, disk.Extent{Offset: off, Length: n}), nil
	}
	for off < end {
		data, err := unix.Seek(d.fd, off, unix.SEEK_DATA)
		if errors.Is(err, unix.ENXIO) {
			data = end // no data after off
		} else if err != nil {
			return disk.AppendExtent(dst, disk.Extent{Offset: off, Length: end - off}), nil
		}
		data = min(data, end)
		dst = disk.AppendExtent(dst, disk.Extent{Offset: off, Length: data - off, Hole: true})
		if data >= end {
			break
		}
		hole, err := unix.Seek(d.fd, data, unix.SEEK_HOLE)
		if err != nil {
			hole = end
		}
		hole = min(hole, end)
		dst = disk.AppendExtent(dst, disk.Extent{Offset: data, Length: hole - data})
		off = hole
	}
	return dst, nil
}

func (d *Disk) Close() error {
	if d.q != nil {
		d.q.Close()
	}
	return d.f.Close()
}
