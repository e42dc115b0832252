package libvhd

import (
	"errors"
	"fmt"
	"io"
)

// ReadAt reads the virtual disk at any byte offset and length, through the
// chain: a clear bitmap bit reads the parent (or zeros on a dynamic disk),
// and past the parent's size reads zeros.
func (im *Image) ReadAt(p []byte, off int64) (int, error) {
	size := im.Size()
	if off < 0 {
		return 0, fmt.Errorf("read at %d: %w", off, ErrOutOfRange)
	}
	if off >= size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	n := min(int64(len(p)), size-off)
	err := im.read(p[:n], off)
	im.note(countRead, err)
	if err != nil {
		return 0, fmt.Errorf("read %s at %d: %w", im.path, off, err)
	}
	if n < int64(len(p)) {
		return int(n), io.EOF
	}
	return int(n), nil
}

// WriteAt writes at any byte offset and length within the disk. Partial
// sectors are merged with what the chain holds (read-modify-write). The
// data is durable once Flush returns.
func (im *Image) WriteAt(p []byte, off int64) (int, error) {
	if im.readOnly {
		return 0, fmt.Errorf("write %s: %w", im.path, ErrReadOnly)
	}
	if off < 0 || off+int64(len(p)) > im.Size() {
		return 0, fmt.Errorf("write %s at %d+%d: %w", im.path, off, len(p), ErrOutOfRange)
	}
	err := im.write(p, off)
	im.note(countWrite, err)
	if err != nil {
		return 0, fmt.Errorf("write %s at %d: %w", im.path, off, err)
	}
	return len(p), nil
}

// write writes p at off, within the disk. Whole sectors into a block
// of a dynamic image already allocated are written without the lock, so
// that writes wait for the file together, and their bitmap bits set
// under it once the data is written, as markWrittenLocked says; the rest
// (partial sectors, new blocks, fixed images) is written under the lock.
func (im *Image) write(p []byte, off int64) error {
	if im.footer.Type == Fixed || off%SectorSize != 0 || len(p)%SectorSize != 0 {
		im.mu.Lock()
		defer im.mu.Unlock()
		if im.closed {
			return ErrClosed
		}
		return im.writeLocked(p, off)
	}
	for len(p) > 0 {
		blk, in := off/im.blockSize, off%im.blockSize
		n := min(int64(len(p)), im.blockSize-in)
		if err := im.writeBlock(p[:n], int(blk), in); err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// writeBlock writes whole sectors p into block blk, at byte in of it.
func (im *Image) writeBlock(p []byte, blk int, in int64) error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.closed {
		return ErrClosed
	}
	e := im.bat[blk]
	if e == unallocated {
		return im.writeAlignedLocked(p, int64(blk)*im.blockSize+in)
	}
	f := im.file
	im.dirty.unsynced = true
	im.inflight.Add(1)
	im.mu.Unlock()
	_, err := f.WriteAt(p, int64(e)*SectorSize+im.bmSize+in)
	im.inflight.Done()
	im.mu.Lock()
	if err != nil {
		return err
	}
	return im.writtenLocked(int64(blk)*im.blockSize+in, int64(len(p)))
}

func (im *Image) readLocked(p []byte, off int64) error {
	if im.closed {
		return ErrClosed
	}
	if im.footer.Type == Fixed {
		return readFull(im.file, p, off)
	}
	for len(p) > 0 {
		blk, in := off/im.blockSize, off%im.blockSize
		n := min(int64(len(p)), im.blockSize-in)
		if err := im.readBlockLocked(p[:n], int(blk), in); err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// readBlockLocked reads p from one block, starting at byte in of it.
func (im *Image) readBlockLocked(p []byte, blk int, in int64) error {
	return im.eachRunLocked(int64(len(p)), blk, in, func(r blockRun) error { return im.readRun(im.file, p, r) })
}

// A blockRun is a piece of a read, bytes [at, at+n) of it, that one
// source holds: the file at fileOff, or (fileOff < 0) what is below this
// image at virt.
type blockRun struct {
	at, n   int64
	fileOff int64
	virt    int64
}

// eachRunLocked splits the read of n bytes from block blk, at byte in
// of it, into runs, in order.
func (im *Image) eachRunLocked(n int64, blk int, in int64, fn func(blockRun) error) error {
	virt := int64(blk)*im.blockSize + in
	e := im.bat[blk]
	if e == unallocated {
		return fn(blockRun{n: n, fileOff: -1, virt: virt})
	}
	data := int64(e)*SectorSize + im.bmSize
	if im.blockFull(blk) {
		return fn(blockRun{n: n, fileOff: data + in, virt: virt})
	}
	s, err := im.bitmapLocked(blk)
	if err != nil {
		return err
	}
	bm := s.bits
	for i := int64(0); i < n; {
		sec := int((in + i) / SectorSize)
		set := testBit(bm, sec)
		end := sec + 1
		for int64(end)*SectorSize < in+n && testBit(bm, end) == set {
			end++
		}
		j := min(int64(end)*SectorSize-in, n)
		r := blockRun{at: i, n: j - i, fileOff: -1, virt: virt + i}
		if set {
			r.fileOff = data + in + i
		}
		if err := fn(r); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// readRun reads run r of p from f, this image's file, or from below.
func (im *Image) readRun(f File, p []byte, r blockRun) error {
	p = p[r.at : r.at+r.n]
	if r.fileOff < 0 {
		return im.readBelow(p, r.virt)
	}
	return readFull(f, p, r.fileOff)
}

// read reads p at off, within the disk. A fixed image's bytes are where
// the disk's are. A dynamic image's reads find, under the lock, where
// each piece of a block lies (the BAT, the bitmap), and read the data
// without it, so that reads wait for the file together rather than one
// after the other: a block's data never moves while the image is open,
// a concurrent write of the same sectors may leave either version (as a
// disk may), and Close waits for the reads the lock let go (inflight).
func (im *Image) read(p []byte, off int64) error {
	if im.footer.Type == Fixed {
		return readFull(im.file, p, off)
	}
	for len(p) > 0 {
		blk, in := off/im.blockSize, off%im.blockSize
		n := min(int64(len(p)), im.blockSize-in)
		if err := im.readBlock(p[:n], int(blk), in); err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// maxRuns bounds the runs of a block read planned to go without the lock;
// a block read cut into more (a bitmap of scattered sectors) is read
// under it.
const maxRuns = 8

// readBlock reads p from one block, starting at byte in of it.
func (im *Image) readBlock(p []byte, blk int, in int64) error {
	var runs [maxRuns]blockRun
	nr := 0
	im.mu.Lock()
	if im.closed {
		im.mu.Unlock()
		return ErrClosed
	}
	err := im.eachRunLocked(int64(len(p)), blk, in, func(r blockRun) error {
		if nr == len(runs) {
			return errTooManyRuns
		}
		runs[nr], nr = r, nr+1
		return nil
	})
	if err == errTooManyRuns {
		err = im.readBlockLocked(p, blk, in)
		im.mu.Unlock()
		return err
	}
	if err != nil {
		im.mu.Unlock()
		return err
	}
	f := im.file
	im.inflight.Add(1)
	im.mu.Unlock()
	defer im.inflight.Done()
	for _, r := range runs[:nr] {
		if err := im.readRun(f, p, r); err != nil {
			return err
		}
	}
	return nil
}

var errTooManyRuns = errors.New("too many runs")

// MapRead tells where the n bytes of the disk at off lie when this
// image's file holds them all in one piece: a caller with I/O of its own
// (an io_uring) may then read them from f at fileOff, without the
// image's lock, and must call ReadDone once it has, whatever the
// outcome: Close waits for it. ok is false, and nothing is to be done,
// when the bytes lie elsewhere or in pieces (a parent, zeros, scattered
// sectors, beyond the disk, a closed image): ReadAt reads those.
func (im *Image) MapRead(off, n int64) (f File, fileOff int64, ok bool) {
	if off < 0 || n <= 0 || off+n > im.Size() {
		return nil, 0, false
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.closed {
		return nil, 0, false
	}
	fileOff = off
	if im.footer.Type != Fixed {
		blk, in := off/im.blockSize, off%im.blockSize
		if in+n > im.blockSize {
			return nil, 0, false
		}
		pieces := 0
		err := im.eachRunLocked(n, int(blk), in, func(r blockRun) error {
			pieces++
			fileOff = r.fileOff
			return nil
		})
		if err != nil || pieces != 1 || fileOff < 0 {
			return nil, 0, false
		}
	}
	im.inflight.Add(1)
	return im.file, fileOff, true
}

// ReadDone ends a read MapRead allowed; err is its outcome, for the
// image's counts.
func (im *Image) ReadDone(err error) {
	im.note(countRead, err)
	im.inflight.Done()
}

// A MappedWrite is a write MapWrite allowed: its bytes go to File at
// Off.
type MappedWrite struct {
	File   File
	Off    int64
	off, n int64 // in the disk
	slot   int32 // the bitmap's pinned cache slot, or -1
}

// MapWrite tells where the n bytes of the disk at off go when a caller
// with I/O of its own (an io_uring) may write them itself: whole sectors
// within one block the file already holds, whose bitmap costs no I/O
// to update afterwards (its bits are all set, or it is cached and then
// kept, and written through a PageCacheWriter or at the next flush).
// The caller writes them to w.File at w.Off without the image's lock,
// then must call WriteDone, whatever the outcome: Close waits for it. ok
// is false, and nothing is to be done, otherwise: WriteAt writes those.
func (im *Image) MapWrite(off, n int64) (w MappedWrite, ok bool) {
	if off < 0 || n <= 0 || off+n > im.Size() || off%SectorSize != 0 || n%SectorSize != 0 {
		return w, false
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.closed || im.readOnly {
		return w, false
	}
	w = MappedWrite{File: im.file, Off: off, off: off, n: n, slot: -1}
	if im.footer.Type != Fixed {
		blk, in := off/im.blockSize, off%im.blockSize
		e := im.bat[blk]
		if in+n > im.blockSize || e == unallocated {
			return w, false
		}
		if !im.blockFull(int(blk)) {
			if !im.deferMetadata && im.pageCacheWriter(int(blk)) == nil {
				return w, false // the bitmap goes to the device
			}
			if w.slot = im.cache.pin(int(blk)); w.slot < 0 {
				return w, false // not cached: loading it is I/O
			}
		}
		w.Off = int64(e)*SectorSize + im.bmSize + in
	}
	im.dirty.unsynced = true
	im.inflight.Add(1)
	return w, true
}

// WriteDone ends a write MapWrite allowed, whose outcome is err: once
// the data is written, the bitmap bits of its sectors are set as for
// WriteAt (markWrittenLocked), with no I/O but a write to the page
// cache. It takes the image's lock: the goroutine reaping the I/O that a
// holder of the lock may be waiting for must not wait for it, and tries
// TryWriteDone first.
func (im *Image) WriteDone(w MappedWrite, err error) error {
	im.inflight.Done() // before the lock, which Close holds while it waits
	im.mu.Lock()
	defer im.mu.Unlock()
	return im.writeDoneLocked(w, err)
}

// TryWriteDone is WriteDone if the image's lock is free; if not, it does
// nothing, returns false, and WriteDone is still to be called.
func (im *Image) TryWriteDone(w MappedWrite, err error) (bool, error) {
	if !im.mu.TryLock() {
		return false, nil
	}
	defer im.mu.Unlock()
	im.inflight.Done()
	return true, im.writeDoneLocked(w, err)
}

func (im *Image) writeDoneLocked(w MappedWrite, err error) error {
	if err == nil {
		err = im.writtenLocked(w.off, w.n)
	}
	if w.slot >= 0 {
		im.cache.unpin(w.slot)
	}
	im.note(countWrite, err)
	if err != nil {
		return fmt.Errorf("write %s at %d: %w", im.path, w.off, err)
	}
	return nil
}

// writtenLocked records a write made without the lock.
func (im *Image) writtenLocked(off, n int64) error {
	if im.closed {
		return ErrClosed
	}
	// A flush may have synced the file while the data was on its way.
	im.dirty.unsynced = true
	if im.footer.Type == Fixed {
		return nil
	}
	return im.markWrittenLocked(int(off/im.blockSize), off%im.blockSize, n)
}

// readBelow reads what this image does not hold: the parent's data, or
// zeros for a dynamic disk.
func (im *Image) readBelow(p []byte, off int64) error {
	if im.parent != nil {
		return im.parent.readAt(p, off)
	}
	if im.footer.Type == Differencing {
		return fmt.Errorf("%w: parent chain not opened", ErrParentNotFound)
	}
	clear(p)
	return nil
}

// blockFull reports the batmap's promise that block's bitmap is all ones.
func (im *Image) blockFull(blk int) bool {
	return im.batmap != nil && testBit(im.batmap.bits, blk)
}

// writeLocked merges partial head and tail sectors, then writes whole
// sectors.
func (im *Image) writeLocked(p []byte, off int64) error {
	if head := off % SectorSize; head != 0 {
		sec := im.scratch[:SectorSize]
		if err := im.readLocked(sec, off-head); err != nil {
			return err
		}
		n := copy(sec[head:], p)
		if err := im.writeAlignedLocked(sec, off-head); err != nil {
			return err
		}
		p, off = p[n:], off+int64(n)
	}
	whole := len(p) &^ (SectorSize - 1)
	if whole > 0 {
		if err := im.writeAlignedLocked(p[:whole], off); err != nil {
			return err
		}
		p, off = p[whole:], off+int64(whole)
	}
	if len(p) > 0 {
		sec := im.scratch[SectorSize:]
		if err := im.readLocked(sec, off); err != nil {
			return err
		}
		copy(sec, p)
		return im.writeAlignedLocked(sec, off)
	}
	return nil
}

// writeAlignedLocked writes whole sectors.
func (im *Image) writeAlignedLocked(p []byte, off int64) error {
	im.dirty.unsynced = true
	if im.footer.Type == Fixed {
		_, err := im.file.WriteAt(p, off)
		return err
	}
	for len(p) > 0 {
		blk, in := int(off/im.blockSize), off%im.blockSize
		n := min(int64(len(p)), im.blockSize-in)
		var err error
		if e := im.bat[blk]; e == unallocated {
			err = im.allocateLocked(blk, p[:n], in)
		} else if _, err = im.file.WriteAt(p[:n], int64(e)*SectorSize+im.bmSize+in); err == nil {
			err = im.markWrittenLocked(blk, in, n)
		}
		if err != nil {
			return err
		}
		p, off = p[n:], off+n
	}
	return nil
}

// markWrittenLocked sets the bitmap bits of sectors just written. By
// default the bitmap goes to the file at once, after the data (in the
// page cache: a process crash keeps both; flush.go says what a power cut
// may leave). With DeferMetadata the bits stay in memory (dirty) until
// the next flush has made the data durable, so on disk a bit never
// vouches for data that is not.
func (im *Image) markWrittenLocked(blk int, in, n int64) error {
	if im.blockFull(blk) {
		return nil
	}
	s, err := im.bitmapLocked(blk)
	if err != nil {
		return err
	}
	if !setBits(s.bits, int(in/SectorSize), int((in+n)/SectorSize)) {
		return nil
	}
	im.noteIfFull(blk, s.bits)
	if im.deferMetadata {
		s.dirty = true
		return nil
	}
	if err := im.storeBitmap(blk, s.bits, int64(im.bat[blk])*SectorSize); err != nil {
		// Unknown on disk now: dirty, so a flush writes it again.
		s.dirty = true
		return fmt.Errorf("write bitmap of block %d: %w", blk, err)
	}
	return nil
}

// setBits sets bits [from, to) and reports whether any was clear.
func setBits(m []byte, from, to int) bool {
	changed := false
	for i := from; i < to; i++ {
		if !testBit(m, i) {
			setBit(m, i)
			changed = true
		}
	}
	return changed
}

// noteIfFull records a full bitmap in the in-memory batmap; the batmap
// reaches the disk only at close, after every bitmap it vouches for.
func (im *Image) noteIfFull(blk int, bm []byte) {
	b := im.batmap
	if b == nil || testBit(b.bits, blk) {
		return
	}
	for i := range int(im.blockSize / SectorSize) {
		if !testBit(bm, i) {
			return
		}
	}
	setBit(b.bits, blk)
	b.changed = true
}

// bitmapLocked returns block's cached bitmap slot, loading it if needed.
func (im *Image) bitmapLocked(blk int) (*cacheSlot, error) {
	if s := im.cache.get(blk); s != nil {
		return s, nil
	}
	i, err := im.freeSlotLocked()
	if err != nil {
		return nil, err
	}
	s := im.cache.assign(i, blk)
	if err := im.loadBitmap(s.bits, int64(im.bat[blk])*SectorSize); err != nil {
		im.cache.release(i)
		return nil, fmt.Errorf("read bitmap of block %d: %w", blk, err)
	}
	return s, nil
}

// freeSlotLocked finds a cache slot to reuse, flushing when every slot
// holds bits not yet on disk.
func (im *Image) freeSlotLocked() (int, error) {
	if i := im.cache.victim(); i >= 0 {
		return i, nil
	}
	if err := im.flushLocked(); err != nil {
		return -1, err
	}
	return im.cache.victim(), nil
}
