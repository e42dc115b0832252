// Package fileio is what the drivers over files and block devices (aio,
// vhd) share: opening with O_DIRECT where the file system allows it, and
// moving data through an io_uring of the disk's own, or through
// syscalls where io_uring is unavailable or turned off.
package fileio

import (
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"sync"

	"golang.org/x/sys/unix"

	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/uring"
	"gotap.dev/libvhd/imagefile"
)

// EnvNoIOURing set to 1 makes the drivers use the syscall path even where
// io_uring works (tests keep that path tested with it).
const EnvNoIOURing = "GOTAP_NO_IO_URING"

// Engines, as Caps().Engine names them.
const (
	EngineIOURing  = "io_uring"
	EngineSyscalls = "syscalls"
)

// QueueEntries bounds the operations one disk has in the kernel at once:
// above the scheduler's default depth (32), so that its workers never
// wait for an entry.
const QueueEntries = 128

// ops are what the io_uring path issues.
var ops = []uint8{uring.OpRead, uring.OpWrite, uring.OpReadFixed, uring.OpWriteFixed, uring.OpReadv, uring.OpWritev, uring.OpFsync}

// NewQueue sets up a disk's io_uring, registering buffers (the VBD
// ring's slots) as fixed buffers; nil where io_uring is unavailable or
// turned off, the syscall path then serving. Why it is unavailable is
// logged once per process.
func NewQueue(buffers []byte) *uring.Queue {
	if os.Getenv(EnvNoIOURing) == "1" {
		return nil
	}
	q, err := uring.NewQueue(QueueEntries, buffers)
	if err == nil {
		if err = q.Supported(ops...); err != nil {
			q.Close()
		}
	}
	if err != nil {
		unavailable.Do(func() {
			slog.Warn("io_uring unavailable, reads and writes go through syscalls", "err", err)
		})
		return nil
	}
	return q
}

var unavailable sync.Once

// Engine names the engine a disk with queue q (nil: none) uses.
func Engine(q *uring.Queue) string {
	if q != nil {
		return EngineIOURing
	}
	return EngineSyscalls
}

// Open opens name as imagefile.Open does, with O_DIRECT if direct and
// the file system allows it; direct reports whether it did. Where the
// file system refuses O_DIRECT (tmpfs, some FUSE and network file
// systems), at open or at the first read, the file is opened buffered.
func Open(name string, flag int, perm fs.FileMode, direct bool) (f *os.File, isDirect bool, err error) {
	if direct {
		f, err = imagefile.Open(name, flag|unix.O_DIRECT, perm)
		if err == nil && !directWorks(f) {
			f.Close()
			f, err = nil, unix.EINVAL
			// The file exists now: the second open must not make it
			// again, nor empty what the first wrote (nothing).
			flag &^= os.O_EXCL | os.O_TRUNC
		}
		if err == nil || !errors.Is(err, unix.EINVAL) {
			return f, err == nil, err
		}
	}
	f, err = imagefile.Open(name, flag, perm)
	return f, false, err
}

// directWorks probes an O_DIRECT read: some file systems accept the flag
// at open and fail every I/O with EINVAL. The probe is one sector at a
// sector's offset in memory aligned to a sector only, the finest
// alignment the drivers ask of O_DIRECT (VHD bitmaps are single
// sectors): a device with larger logical blocks fails it and is used
// buffered.
func directWorks(f *os.File) bool {
	buf := ring.AlignedBuffer(2 * SectorSize)[SectorSize:]
	_, err := unix.Pread(int(f.Fd()), buf, SectorSize)
	return !errors.Is(err, unix.EINVAL)
}

// SectorSize is the granularity of O_DIRECT offsets, lengths and memory
// addresses the drivers rely on.
const SectorSize = 512
