package libvhd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"
	"gotap.dev/libvhd/imagelock"
)

// File is what an Image needs of the file that holds it. Tests substitute
// a crashable in-memory file to prove the write order (see crash_test.go).
type File interface {
	io.ReaderAt
	io.WriterAt
	Sync() error // make every completed write durable (fdatasync)
	Size() (int64, error)
	ModTime() (time.Time, error)
	Close() error
}

// FS opens the files of an image chain.
type FS interface {
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
}

// OSFS is the real file system.
type OSFS struct{}

// OpenFile opens an image or parent so that it can never block: with
// O_NONBLOCK, because opening a FIFO for reading otherwise waits for a
// writer (a crafted locator, or a FIFO named as the image, would hang the
// caller for good). It then refuses anything but a regular file or a
// block device, checked on the open descriptor so that a file swapped in
// after a check by name cannot slip through.
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag|unix.O_NONBLOCK, perm)
	if errors.Is(err, unix.ENXIO) || errors.Is(err, unix.EISDIR) {
		// What opening a socket, or a directory for writing, says; say
		// what the file is instead.
		if st, serr := os.Stat(name); serr == nil && fileKind(st.Mode()) != "" {
			return nil, fileTypeError(name, st.Mode())
		}
	}
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if fileKind(st.Mode()) != "" {
		f.Close()
		return nil, fileTypeError(name, st.Mode())
	}
	// Fd puts the descriptor back in blocking mode, the mode regular
	// files and block devices are read in anyway.
	f.Fd()
	return osFile{f}, nil
}

// fileKind names what a file of mode m is when it cannot be an image:
// "" for a regular file or a block device.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsRegular(), isBlockDevice(m):
		return ""
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m.IsDir():
		return "directory"
	}
	return "special file"
}

func isBlockDevice(m fs.FileMode) bool {
	return m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0
}

func fileTypeError(name string, m fs.FileMode) error {
	return &os.PathError{Op: "open", Path: name, Err: fmt.Errorf("%w: a %s", ErrFileType, fileKind(m))}
}

type osFile struct{ *os.File }

// Sync uses fdatasync: the data and the size, not the timestamps.
func (f osFile) Sync() error {
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		return &os.PathError{Op: "fdatasync", Path: f.Name(), Err: err}
	}
	return nil
}

// Size works for block devices too, where Stat reports 0.
func (f osFile) Size() (int64, error) { return f.Seek(0, io.SeekEnd) }

func (f osFile) ModTime() (time.Time, error) {
	st, err := f.Stat()
	if err != nil {
		return time.Time{}, err
	}
	return st.ModTime(), nil
}

// readFull reads len(p) bytes at off; bytes past the end of the file read
// as zeros (a truncated image must not make a reader panic or hang).
func readFull(f io.ReaderAt, p []byte, off int64) error {
	n, err := f.ReadAt(p, off)
	if err == io.EOF {
		clear(p[n:])
		return nil
	}
	return err
}

// lockImage takes the image lock opts ask for (see OpenOptions.NoLock) on
// a file of the real file system; other file systems are tests' and
// need none.
func lockImage(f File, opts OpenOptions) error {
	of, ok := f.(osFile)
	if !ok || opts.NoLock {
		return nil
	}
	mode := imagelock.Exclusive
	if opts.ReadOnly {
		mode = imagelock.Shared
	}
	return imagelock.Lock(of.File, mode)
}
