package ram

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"

	"golang.org/x/sys/unix"

	"gotap.dev/libvhd/imagelock"
)

// loadChunk is how much of the file one read copies into the disk.
const loadChunk = 4 << 20

// load makes a disk holding a copy of the file at path (`ram:FILE`);
// notSize is why path was not taken for a size, for the message when it
// is no file either.
func load(path string, notSize error) ([]byte, error) {
	// O_NONBLOCK: opening a FIFO must not wait for a writer (it is then
	// refused below, as are sockets, character devices and directories).
	f, err := os.OpenFile(path, os.O_RDONLY|unix.O_NONBLOCK, 0)
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

// fileSize is the size of a regular file or block device, which must be
// whole sectors; anything else is refused with EINVAL.
func fileSize(f *os.File) (int64, error) {
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	var size int64
	switch m := st.Mode(); {
	case m.IsRegular():
		size = st.Size()
	case m&fs.ModeDevice != 0 && m&fs.ModeCharDevice == 0:
		if size, err = f.Seek(0, io.SeekEnd); err != nil {
			return 0, err
		}
	default:
		return 0, fmt.Errorf("a %s, not a regular file or block device: %w", kind(m), syscall.EINVAL)
	}
	if size <= 0 || size%512 != 0 {
		return 0, fmt.Errorf("%d bytes: a RAM disk is a positive number of 512-byte sectors: %w", size, syscall.EINVAL)
	}
	return size, nil
}

// kind names a file type for messages.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "directory"
	case m&fs.ModeNamedPipe != 0:
		return "FIFO"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	}
	return "special file"
}
