package libvhd

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// A convert's destination is written as DEST.partial-RANDOM in DEST's
// folder, made durable (the image's Close syncs, a raw file is synced),
// then renamed to DEST and the folder synced. So DEST appears whole or
// not at all; a process killed midway leaves only the .partial file,
// whose name says what it is.

// destination is the file a convert is writing.
type destination struct {
	w   writerCloser
	tmp string
	dst string
}

type writerCloser interface {
	WriteAt(p []byte, off int64) (int, error)
	Close() error // durable when it returns nil
}

// checkDestination refuses an existing dst unless overwrite, and then
// anything but a regular file (a rename would replace a device node).
func checkDestination(dst string, overwrite bool) error {
	st, err := os.Lstat(dst)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("destination: %w", err)
	case !overwrite:
		return fmt.Errorf("destination %s: %w", dst, fs.ErrExist)
	case !st.Mode().IsRegular():
		return fmt.Errorf("destination %s is not a regular file: %w", dst, ErrFileType)
	}
	return nil
}

func createDestination(dst string, size int64, opts ConvertOptions) (*destination, error) {
	var suffix [4]byte
	if _, err := rand.Read(suffix[:]); err != nil {
		return nil, err
	}
	d := &destination{dst: dst, tmp: dst + ".partial-" + hex.EncodeToString(suffix[:])}
	var err error
	switch opts.Format {
	case ToRaw:
		d.w, err = createRaw(d.tmp, size)
	case ToFixed:
		d.w, err = Create(d.tmp, CreateOptions{Type: Fixed, Size: size})
	default:
		d.w, err = createDynamic(d.tmp, size, opts.MaxSize)
	}
	if err != nil {
		os.Remove(d.tmp)
		return nil, fmt.Errorf("convert to %s: %w", dst, err)
	}
	return d, nil
}

// createDynamic creates the image, then opens it keeping metadata in
// memory until the end: nobody can use it before the rename, so the
// write order that protects a live image would only cost syncs here.
func createDynamic(path string, size, maxSize int64) (*Image, error) {
	im, err := Create(path, CreateOptions{Type: Dynamic, Size: size, MaxSize: maxSize})
	if err != nil {
		return nil, err
	}
	if err := im.Close(); err != nil {
		return nil, err
	}
	return Open(path, OpenOptions{DeferMetadata: true})
}

// rawFile is a raw destination: synced at Close.
type rawFile struct{ *os.File }

func createRaw(path string, size int64) (rawFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return rawFile{}, err
	}
	if err := f.Truncate(size); err != nil {
		f.Close()
		return rawFile{}, err
	}
	return rawFile{f}, nil
}

func (f rawFile) Close() error {
	if err := unix.Fdatasync(int(f.Fd())); err != nil {
		f.File.Close()
		return fmt.Errorf("fdatasync %s: %w", f.Name(), err)
	}
	return f.File.Close()
}

func (d *destination) WriteAt(p []byte, off int64) (int, error) { return d.w.WriteAt(p, off) }

// abandon closes and removes the partial file.
func (d *destination) abandon() {
	d.w.Close()
	os.Remove(d.tmp)
}

// commit makes the file durable and gives it its name.
func (d *destination) commit(overwrite bool) error {
	if err := d.w.Close(); err != nil {
		os.Remove(d.tmp)
		return fmt.Errorf("convert to %s: %w", d.dst, err)
	}
	rename := renameNoReplace
	if overwrite {
		rename = os.Rename
	}
	if err := rename(d.tmp, d.dst); err != nil {
		os.Remove(d.tmp)
		return fmt.Errorf("convert to %s: %w", d.dst, err)
	}
	if err := (OSFS{}).SyncDir(filepath.Dir(d.dst)); err != nil {
		return fmt.Errorf("convert to %s: sync folder: %w", d.dst, err)
	}
	return nil
}

// renameNoReplace renames, failing with EEXIST if newpath exists (a file
// made there since the check). File systems without RENAME_NOREPLACE
// get a hard link and an unlink, which fail the same way.
func renameNoReplace(oldpath, newpath string) error {
	err := unix.Renameat2(unix.AT_FDCWD, oldpath, unix.AT_FDCWD, newpath, unix.RENAME_NOREPLACE)
	if !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOSYS) {
		return wrapRename(oldpath, newpath, err)
	}
	if err := os.Link(oldpath, newpath); err != nil {
		return err
	}
	return os.Remove(oldpath)
}

func wrapRename(oldpath, newpath string, err error) error {
	if err == nil {
		return nil
	}
	return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
}
