package libvhd

import (
	"io"
	"io/fs"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"gotap.dev/libvhd/imagefile"
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

// OpenFile opens an image or parent so that it can never block and
// refuses what cannot be one (package imagefile).
func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := imagefile.Open(name, flag, perm)
	if err != nil {
		return nil, err
	}
	return osFile{f}, nil
}

type osFile struct{ *os.File }

// OSFiler is a File of the real file system opened by another FS (one
// that moves the data its own way, say): Open takes the image lock on
// the *os.File it returns as it does on OSFS's, so no FS can open an
// image for writing past another writer.
type OSFiler interface {
	OSFile() *os.File
}

// PageCacheWriter is a File that moves its bytes around the page cache
// (O_DIRECT) and can also write through it: libvhd writes a bitmap there
// when no data shares its pages (bitmappages.go), at the cost of a copy
// instead of a device write. The writer's writes are made durable by the
// File's Sync, like the File's own.
type PageCacheWriter interface {
	PageCacheWriter() io.WriterAt // nil: not now
}

// OSFile is the file itself.
func (f osFile) OSFile() *os.File { return f.File }

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
// a file of the real file system (an OSFiler); other file systems are
// tests' and need none.
func lockImage(f File, opts OpenOptions) error {
	of, ok := f.(OSFiler)
	if !ok || opts.NoLock {
		return nil
	}
	return imagelock.Lock(of.OSFile(), imagelock.For(!opts.ReadOnly))
}
