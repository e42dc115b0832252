package libvhd

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"

	"gotap.dev/libvhd/imagelock"
)

// A coalesce writes into a layer its chain opened read-only, with a shared
// lock, while the chain may go on reading it (a live commit). The layer
// is upgraded in place: a second, writable file of it is opened and locked
// exclusively (our reader's locks released first: they would conflict as
// another process's do), and used for the copy; at the end the copy is
// made durable, the writable file closed and the reader's shared lock
// taken back. The reader's file stays open throughout, so concurrent
// reads never wait for an open.

// target is layer base opened for writing for the duration of a copy.
type target interface {
	// write puts p at virtual offset off; with sparse, an all-zero piece
	// that would only allocate space reading zeros anyway is skipped.
	write(p []byte, off int64, sparse bool) error
	// finish makes the copy durable and returns the layer to read-only.
	finish() error
}

// openTarget upgrades l for writing.
func openTarget(l layer, fsys FS) (target, error) {
	switch l := l.(type) {
	case *Image:
		return l.beginWrites()
	case *rawLayer:
		return l.beginWrites(fsys)
	}
	panic(fmt.Sprintf("openTarget: unknown layer %T", l))
}

// upgrade opens path for writing, checks that it is the file old is open
// on, and moves the lock from old (shared) to it (exclusive); on a refusal
// old gets its shared lock back.
func upgrade(fsys FS, path string, old File) (File, error) {
	f, err := fsys.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("reopen %s for writing: %w", path, err)
	}
	if err := sameFile(old, f); err != nil {
		f.Close()
		return nil, fmt.Errorf("reopen %s for writing: %w", path, err)
	}
	if err := unlockImage(old); err != nil {
		f.Close()
		return nil, err
	}
	if err := lockImage(f, OpenOptions{}); err != nil {
		f.Close()
		return nil, errors.Join(err, lockImage(old, OpenOptions{ReadOnly: true}))
	}
	return f, nil
}

// downgrade closes the writable file and gives old its shared lock back.
func downgrade(f, old File) error {
	err := unlockImage(f)
	err = errors.Join(err, f.Close())
	return errors.Join(err, lockImage(old, OpenOptions{ReadOnly: true}))
}

// sameFile refuses a path that no longer names the open file (replaced
// since the chain was opened).
func sameFile(a, b File) error {
	fa, ok1 := a.(OSFiler)
	fb, ok2 := b.(OSFiler)
	if !ok1 || !ok2 {
		return nil
	}
	sa, err := fa.OSFile().Stat()
	if err != nil {
		return err
	}
	sb, err := fb.OSFile().Stat()
	if err != nil {
		return err
	}
	if !os.SameFile(sa, sb) {
		return fmt.Errorf("%w: the path names another file than the one the chain holds", ErrParentRefused)
	}
	return nil
}

// unlockImage releases the image locks of a file of the real file system.
func unlockImage(f File) error {
	if of, ok := f.(OSFiler); ok {
		return imagelock.Unlock(of.OSFile())
	}
	return nil
}

// vhdTarget is an Image of the chain, writable until finish. Its metadata
// is deferred (DeferMetadata) during the copy: a new block's BAT entry and
// the bitmaps reach the file at flushes, after the data, instead of one
// sync per block; nothing of the copy needs to be durable before the end.
type vhdTarget struct {
	im          *Image
	old         File
	deferBefore bool
	wb          writeback
}

// beginWrites swaps a writable file in under the image's lock.
func (im *Image) beginWrites() (*vhdTarget, error) {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.closed {
		return nil, ErrClosed
	}
	f, err := upgrade(im.fsys, im.path, im.file)
	if err != nil {
		return nil, err
	}
	t := &vhdTarget{im: im, old: im.file, deferBefore: im.deferMetadata}
	im.file, im.readOnly, im.deferMetadata = f, false, true
	return t, nil
}

func (t *vhdTarget) write(p []byte, off int64, sparse bool) error {
	im := t.im
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.closed {
		return ErrClosed
	}
	t.wb.wrote(im.file, len(p))
	if !sparse || im.footer.Type != Dynamic {
		// A differencing target's hole reads its parent, a fixed one's
		// bytes are all there: zeros must be written.
		return im.writeLocked(p, off)
	}
	for len(p) > 0 {
		blk, in := off/im.blockSize, off%im.blockSize
		n := min(int64(len(p)), im.blockSize-in)
		if im.bat[blk] != unallocated || !allZero(p[:n]) {
			if err := im.writeLocked(p[:n], off); err != nil {
				return err
			}
		}
		p, off = p[n:], off+n
	}
	return nil
}

// finish flushes and writes the batmap as Close would, then swaps the
// read-only file back.
func (t *vhdTarget) finish() error {
	im := t.im
	im.mu.Lock()
	defer im.mu.Unlock()
	im.inflight.Wait() // reads of f, which is closed below
	err := im.closeWritesLocked()
	f := im.file
	im.file, im.readOnly, im.deferMetadata = t.old, true, t.deferBefore
	if err != nil {
		err = fmt.Errorf("flush %s: %w", im.path, err)
	}
	return errors.Join(err, downgrade(f, t.old))
}

// rawTarget writes a raw base through its own file; the layer goes on
// reading through its read-only one (one page cache: it sees the writes).
// A raw file has no holes to keep: sparse writes everything.
type rawTarget struct {
	r  *rawLayer
	f  File
	wb writeback
}

func (r *rawLayer) beginWrites(fsys FS) (*rawTarget, error) {
	f, err := upgrade(fsys, r.path, r.f)
	if err != nil {
		return nil, err
	}
	return &rawTarget{r: r, f: f}, nil
}

func (t *rawTarget) write(p []byte, off int64, _ bool) error {
	t.wb.wrote(t.f, len(p))
	_, err := t.f.WriteAt(p, off)
	return err
}

func (t *rawTarget) finish() error {
	err := t.f.Sync()
	if err != nil {
		err = fmt.Errorf("sync %s: %w", t.r.path, err)
	}
	return errors.Join(err, downgrade(t.f, t.r.f))
}

// writeback starts the disk writing a target's data while the copy goes
// on: every writebackEvery bytes, sync_file_range(WRITE) queues the
// file's dirty pages without waiting for them, so that the sync at the
// end finds little left to do. Only files of the real file system.
type writeback struct{ pending int }

const writebackEvery = 32 << 20

func (w *writeback) wrote(f File, n int) {
	if w.pending += n; w.pending < writebackEvery {
		return
	}
	w.pending = 0
	if of, ok := f.(OSFiler); ok {
		// Advice only: a failure shows at the sync.
		_ = unix.SyncFileRange(int(of.OSFile().Fd()), 0, 0, unix.SYNC_FILE_RANGE_WRITE)
	}
}

// allZero reports whether p holds only zero bytes.
func allZero(p []byte) bool {
	for len(p) > 0 {
		n := min(len(p), len(zeroPage))
		if !bytes.Equal(p[:n], zeroPage[:n]) {
			return false
		}
		p = p[n:]
	}
	return true
}

var zeroPage [64 << 10]byte
