package libvhd

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
	"sync"
	"syscall"
	"time"
)

// crashFS is an in-memory file system that can "crash" after a given
// number of write calls. A crashed file keeps two images of itself:
//   - written: every byte a completed write call put there (what survives
//     kill -9: the page cache outlives the process);
//   - durable: the bytes as of the last Sync (what survives power loss).
//
// With tear set, the write that hits the limit lands all but its last
// sector: disks write whole sectors atomically, so a torn write is a
// prefix of whole sectors.
type crashFS struct {
	mu     sync.Mutex
	files  map[string]*memFile
	writes int // completed write calls
	limit  int // crash when writes reaches limit; -1: never
	tear   bool
}

var errCrashed = errors.New("crashed")

func newCrashFS() *crashFS { return &crashFS{files: map[string]*memFile{}, limit: -1} }

// addDevice makes name a block device of size bytes holding stale
// bytes (a pattern), all durable: what lvcreate leaves.
func (c *crashFS) addDevice(name string, size int) {
	b := make([]byte, size)
	for i := range b {
		b[i] = 0xA5
	}
	c.files[name] = &memFile{fs: c, device: true, written: b, durable: bytes.Clone(b)}
}

func (c *crashFS) OpenFile(name string, flag int, _ fs.FileMode) (File, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.files[name]
	switch {
	case ok && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case !ok && flag&os.O_CREATE == 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
	case !ok:
		f = &memFile{fs: c}
		c.files[name] = f
	}
	return &memHandle{f}, nil
}

func (c *crashFS) crashed() bool { return c.limit >= 0 && c.writes >= c.limit }

type memFile struct {
	fs *crashFS
	// device: a block device (blockdev.go) of len(written) bytes, which
	// writes cannot grow (ENOSPC).
	device   bool
	written  []byte
	durable  []byte
	unsynced []memWrite // since the last Sync, in order
}

type memWrite struct {
	off     int64
	data    []byte
	extends bool // the write grew the file
}

type memHandle struct{ *memFile }

func (h *memHandle) ReadAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if off >= int64(len(h.written)) {
		return 0, io.EOF
	}
	n := copy(p, h.written[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *memHandle) WriteAt(p []byte, off int64) (int, error) {
	c := h.fs
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.crashed() {
		return 0, errCrashed
	}
	if h.device && off+int64(len(p)) > int64(len(h.written)) {
		return 0, &fs.PathError{Op: "write", Path: "device", Err: syscall.ENOSPC}
	}
	c.writes++
	if c.crashed() && c.tear {
		p = p[:max(len(p)-SectorSize, 0)&^(SectorSize-1)]
	}
	// A write that lands nothing does not grow the file either.
	if len(p) > 0 {
		end := off + int64(len(p))
		h.unsynced = append(h.unsynced, memWrite{off, bytes.Clone(p), end > int64(len(h.written))})
		if end > int64(len(h.written)) {
			h.written = append(h.written, make([]byte, end-int64(len(h.written)))...)
		}
		copy(h.written[off:], p)
	}
	if c.crashed() {
		return len(p), errCrashed
	}
	return len(p), nil
}

func (h *memHandle) Sync() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.fs.crashed() {
		return errCrashed
	}
	h.durable = append(h.durable[:0], h.written...)
	h.unsynced = h.unsynced[:0]
	return nil
}

// powerLoss is the file after a power cut: the durable bytes plus the
// unsynced writes that keep(i) chooses. The file's length only grows
// through kept writes that grew it (file systems journal a new size with
// the data that caused it); kept bytes past that length are lost.
func (f *memFile) powerLoss(keep func(i int) bool) []byte {
	b := bytes.Clone(f.durable)
	length := int64(len(b))
	for i, w := range f.unsynced {
		if !keep(i) {
			continue
		}
		end := w.off + int64(len(w.data))
		if end > int64(len(b)) {
			b = append(b, make([]byte, end-int64(len(b)))...)
		}
		copy(b[w.off:], w.data)
		if w.extends {
			length = max(length, end)
		}
	}
	if int64(len(b)) > length {
		b = b[:length]
	}
	return b
}

func (h *memHandle) Size() (int64, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	return int64(len(h.written)), nil
}

// Stat says what isBlockDevice (blockdev.go) asks: a device or a file.
func (h *memHandle) Stat() (fs.FileInfo, error) { return memInfo{h.device}, nil }

type memInfo struct{ device bool }

func (i memInfo) Mode() fs.FileMode {
	if i.device {
		return fs.ModeDevice
	}
	return 0
}
func (memInfo) Name() string       { return "" }
func (memInfo) Size() int64        { return 0 }
func (memInfo) ModTime() time.Time { return time.Time{} }
func (memInfo) IsDir() bool        { return false }
func (memInfo) Sys() any           { return nil }

func (h *memHandle) ModTime() (time.Time, error) { return time.Unix(1e9, 0), nil }
func (h *memHandle) Close() error                { return nil }
