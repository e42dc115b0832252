package ram

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"gotap.dev/libvhd/imagefile"
	"gotap.dev/libvhd/imagelock"
)

// loadChunk is how much of the file one read copies into the disk.
const loadChunk = 4 << 20

// load makes a disk holding a copy of the file at path (`ram:FILE`);
// notSize is why path was not taken for a size, for the message when it
// is no file either.
func load(path string, notSize error) ([]byte, error) {
	// Never waiting on a FIFO, refusing it, sockets, character devices
	// and directories.
	f, err := imagefile.Open(path, os.O_RDONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%q is neither a size (%v) nor a file: %w", path, notSize, err)
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	size, err := fileSize(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// A shared lock, as a reader of an image takes it: the copy is not
	// made while a tapdisk, qemu-nbd or a VM writes the file.
	if err := imagelock.Lock(f, imagelock.Shared); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	committing.Lock()
	defer committing.Unlock()
	if err := host.checkFree(size); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	mem, err := mapMemory(size)
	if err != nil {
		return nil, err
	}
	// Reading the file into the mapping commits every page of it.
	for off := int64(0); off < size; off += loadChunk {
		end := min(off+loadChunk, size)
		if _, err := f.ReadAt(mem[off:end], off); err != nil {
			unix.Munmap(mem)
			if errors.Is(err, io.EOF) {
				err = fmt.Errorf("shrank to %d bytes while being read: %w", off, syscall.EIO)
			}
			return nil, fmt.Errorf("%s: %w", path, err)
		}
	}
	return mem, nil
}

// fileSize is the size of the file, which must be whole sectors.
func fileSize(f *os.File) (int64, error) {
	size, err := imagefile.Size(f)
	if err != nil {
		return 0, err
	}
	if size <= 0 || size%512 != 0 {
		return 0, fmt.Errorf("%d bytes: a RAM disk is a positive number of 512-byte sectors: %w", size, syscall.EINVAL)
	}
	return size, nil
}
