package vhd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"gotap.dev/libtap/drivers/fileio"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/uring"
	"gotap.dev/libvhd"
	"gotap.dev/libvhd/imagefile"
	"gotap.dev/libvhd/imagelock"
)

// fsys opens the files of a disk's chain for libvhd: with O_DIRECT
// unless told not to (or the file system refuses it), their reads and
// writes going through the disk's io_uring. It is the real file system
// in every other respect (OSFS embedded): libvhd's parent policy
// resolves names through it, following links as it must to refuse a
// parent outside the allowed folders.
type fsys struct {
	libvhd.OSFS
	q        *uring.Queue // nil: the syscall path
	direct   bool         // ask for O_DIRECT
	buffered atomic.Bool  // a file was opened buffered although direct was asked
}

func (s *fsys) OpenFile(name string, flag int, perm fs.FileMode) (libvhd.File, error) {
	f, direct, err := fileio.Open(name, flag, perm, s.direct)
	if err != nil {
		return nil, err
	}
	if s.direct && !direct {
		s.buffered.Store(true)
	}
	fl := &file{f: f, fd: int(f.Fd()), q: s.q, direct: direct}
	if direct && flag&unix.O_ACCMODE != unix.O_RDONLY {
		fl.cached = newPageCache(reopenBuffered(f))
	}
	return fl, nil
}

// reopenBuffered opens f's file again, without O_DIRECT: a second open
// file description, taking no image lock of its own (the locks stay
// f's). Without /proc it is nil, and bitmaps go to the device.
func reopenBuffered(f *os.File) *os.File {
	c, err := os.OpenFile(fmt.Sprintf("/proc/self/fd/%d", f.Fd()), os.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	return c
}

// isDirect reports whether every file of the chain is read and written
// with O_DIRECT.
func (s *fsys) isDirect() bool { return s.direct && !s.buffered.Load() }

// file is one image of the chain. Reads go through the io_uring, and so
// do writes with O_DIRECT; buffered writes are pwrite calls, for the
// reason aio gives (a buffered write through io_uring is handed to an
// io-wq thread: a thread hop per write).
//
// With O_DIRECT, what libvhd moves must be sector-aligned in offset,
// length and memory. The data of requests is (the VBD ring's buffers
// are aligned, and requests come in sectors), and so are bitmaps and BAT
// sectors; what is not (a footer or a header in a stack array, an old
// 511-byte footer, a partial sector of an unaligned write) goes through
// a bounce buffer. An unaligned write is then a read-modify-write of
// its sectors, which is safe because libvhd writes metadata under the
// image's lock, never beside another write of the same sectors.
type file struct {
	f      *os.File
	fd     int
	q      *uring.Queue
	direct bool
	// cached is the same file opened without O_DIRECT, where f has it and
	// is writable: libvhd writes bitmaps through it where it may.
	cached *pageCache
}

// OSFile lets libvhd lock the image (libvhd.OSFiler).
func (f *file) OSFile() *os.File { return f.f }

// PageCacheWriter is the way around O_DIRECT libvhd takes for bitmaps
// (libvhd.PageCacheWriter); f's Sync makes its writes durable, as
// fdatasync on any descriptor of a file does.
func (f *file) PageCacheWriter() io.WriterAt {
	if f.cached == nil {
		return nil // not a nil *pageCache in an interface
	}
	return f.cached
}

// Close releases the image locks first: the locks go with the open file
// description, which io_uring may still reference for a while after the
// descriptor is closed (an operation's reference, dropped by an io-wq
// thread, is put off to a workqueue), and meanwhile a new opener of the
// image would be refused.
func (f *file) Close() error {
	uerr := imagelock.Unlock(f.f)
	if f.cached != nil {
		f.cached.Close()
	}
	if err := f.f.Close(); err != nil {
		return err
	}
	return uerr
}

func (f *file) Size() (int64, error) { return imagefile.Size(f.f) }

func (f *file) ModTime() (time.Time, error) {
	st, err := f.f.Stat()
	if err != nil {
		return time.Time{}, err
	}
	return st.ModTime(), nil
}

// Truncate serves libvhd's maintenance operations, which shrink a file.
func (f *file) Truncate(n int64) error { return f.f.Truncate(n) }

// Sync is fdatasync: the data and the size, not the timestamps.
func (f *file) Sync() error {
	var err error
	if f.q != nil {
		err = fileio.Flush(f.q, f.fd)
	} else {
		err = unix.Fdatasync(f.fd)
	}
	if err != nil {
		return &os.PathError{Op: "fdatasync", Path: f.f.Name(), Err: err}
	}
	return nil
}

func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if f.direct && !aligned(p, off) {
		return f.bounceRead(p, off)
	}
	return f.readFull(p, off)
}

func (f *file) WriteAt(p []byte, off int64) (int, error) {
	if f.direct && !aligned(p, off) {
		return f.bounceWrite(p, off)
	}
	return f.writeFull(p, off)
}

// readFull reads p at off as io.ReaderAt does: short only at the end of
// the file (io.EOF) or on an error.
func (f *file) readFull(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := f.once(false, p[n:], off+int64(n))
		if err != nil {
			return n, f.pathErr("read", err)
		}
		if m == 0 {
			return n, io.EOF
		}
		n += m
	}
	return n, nil
}

func (f *file) writeFull(p []byte, off int64) (int, error) {
	n := 0
	for n < len(p) {
		m, err := f.once(true, p[n:], off+int64(n))
		if err == nil && m == 0 {
			err = fmt.Errorf("write at %d moved no byte: %w", off+int64(n), unix.EIO)
		}
		if err != nil {
			return n, f.pathErr("write", err)
		}
		n += m
	}
	return n, nil
}

// once moves what one read or write moves.
func (f *file) once(write bool, b []byte, off int64) (int, error) {
	switch {
	case f.q != nil && (!write || f.direct):
		return fileio.RingOnce(f.q, f.fd, write, b, off)
	case write:
		return unix.Pwrite(f.fd, b, off)
	}
	return unix.Pread(f.fd, b, off)
}

func (f *file) pathErr(op string, err error) error {
	return &os.PathError{Op: op, Path: f.f.Name(), Err: err}
}

// aligned reports whether O_DIRECT can move p at off as it is.
func aligned(p []byte, off int64) bool {
	const mask = fileio.SectorSize - 1
	return off&mask == 0 && len(p)&mask == 0 && uintptr(unsafe.Pointer(unsafe.SliceData(p)))&mask == 0
}

// window is the sectors around [off, off+n) in a fresh aligned buffer.
func window(off int64, n int) (lo int64, buf []byte) {
	const mask = fileio.SectorSize - 1
	lo = off &^ mask
	hi := (off + int64(n) + mask) &^ mask
	return lo, ring.AlignedBuffer(int(hi - lo))
}

// bounceRead reads the sectors around p into an aligned buffer.
func (f *file) bounceRead(p []byte, off int64) (int, error) {
	lo, buf := window(off, len(p))
	n, err := f.readFull(buf, lo)
	got := copy(p, buf[off-lo:max(int64(n), off-lo)])
	if got == len(p) {
		return got, nil // the file may end after p, within the sector
	}
	return got, err
}

// bounceWrite merges p into the sectors it touches, through an aligned
// buffer. Where the file ends
// inside the last of them, the write of whole sectors lengthens it: it
// is cut back to where it ended, or to p's end.
func (f *file) bounceWrite(p []byte, off int64) (int, error) {
	lo, buf := window(off, len(p))
	if lo == off && len(buf) == len(p) {
		// Whole sectors from unaligned memory (a footer or a BAT sector
		// of libvhd's): a copy, no read.
		copy(buf, p)
		return f.writeFull(buf, off)
	}
	n, err := f.readFull(buf, lo)
	if err != nil && !errors.Is(err, io.EOF) {
		return 0, err
	}
	copy(buf[off-lo:], p)
	if _, err := f.writeFull(buf, lo); err != nil {
		return 0, err
	}
	if n < len(buf) {
		if end := max(lo+int64(n), off+int64(len(p))); end < lo+int64(len(buf)) {
			if err := f.f.Truncate(end); err != nil {
				return 0, f.pathErr("truncate", err)
			}
		}
	}
	return len(p), nil
}
