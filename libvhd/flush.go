package libvhd

import (
	"encoding/binary"
	"fmt"
)

// What survives, by default (metadata written through, see io.go and
// alloc.go):
//
//   - a process crash: every write WriteAt acknowledged, metadata and all:
//     it is in the page cache before WriteAt returns;
//   - a power cut: a valid image (a BAT entry reaches the disk only after
//     a sync has made its block durable), every write acknowledged before
//     a Flush that returned, and for a later write, per sector: the old
//     bytes, the new ones, or zeros, the last only where the write first
//     put the sector in this image (its bitmap bit may land before its
//     data, which reads back as the hole it was).
//
// With DeferMetadata, a process crash may lose a write acknowledged since
// the last Flush as a power cut may, and after either each sector reads
// its old or its new bytes, never zeros (bits reach the disk after the
// data).

// dirtyState is what is written but not yet durable, or durable data whose
// metadata is still only in memory.
type dirtyState struct {
	unsynced   bool    // data written since the last sync
	pending    []byte  // bitset: blocks allocated whose BAT entry is not on disk
	pendingBlk []int32 // the same blocks, in allocation order
	batSectors []byte  // bitset: BAT sectors to rewrite
	batBuf     [SectorSize]byte
}

func (d *dirtyState) init(blocks int) {
	d.pending = make([]byte, (blocks+7)/8)
	d.batSectors = make([]byte, (blocks*4/SectorSize+8)/8)
}

func (d *dirtyState) allocated(blk int) {
	setBit(d.pending, blk)
	d.pendingBlk = append(d.pendingBlk, int32(blk))
	setBit(d.batSectors, blk*4/SectorSize)
}

// reachable records that the BAT on disk points at every pending block.
func (d *dirtyState) reachable() {
	for _, b := range d.pendingBlk {
		clearBit(d.pending, int(b))
	}
	d.pendingBlk = d.pendingBlk[:0]
}

// Flush makes every completed write durable.
func (im *Image) Flush() error {
	im.mu.Lock()
	defer im.mu.Unlock()
	if im.closed {
		return ErrClosed
	}
	if err := im.flushLocked(); err != nil {
		return fmt.Errorf("flush %s: %w", im.path, err)
	}
	return nil
}

// flushLocked writes metadata in the order that keeps the on-disk image
// valid and never lets it vouch for data that is not durable:
//
//  1. bitmaps of blocks the on-disk BAT does not reach yet (harmless);
//  2. sync: every data byte and those bitmaps are durable;
//  3. bitmaps of reachable blocks and the BAT sectors of new blocks;
//  4. sync.
func (im *Image) flushLocked() error {
	d := &im.dirty
	if im.footer.Type == Fixed || im.readOnly {
		if !d.unsynced {
			return nil
		}
		d.unsynced = false
		return im.file.Sync()
	}
	dirtyBitmaps := false
	for i := range im.cache.slots {
		dirtyBitmaps = dirtyBitmaps || im.cache.slots[i].dirty
	}
	if !d.unsynced && !dirtyBitmaps && len(d.pendingBlk) == 0 {
		return nil
	}
	if err := im.writeBitmapsLocked(true); err != nil {
		return err
	}
	if err := im.file.Sync(); err != nil {
		return err
	}
	d.unsynced = false
	if !dirtyBitmaps && len(d.pendingBlk) == 0 {
		return nil
	}
	if err := im.writeBitmapsLocked(false); err != nil {
		return err
	}
	if err := im.writeBATLocked(); err != nil {
		return err
	}
	if err := im.file.Sync(); err != nil {
		return err
	}
	d.reachable()
	return nil
}

// writeBitmapsLocked writes the dirty bitmaps of pending (not yet
// reachable) blocks, or of all remaining dirty blocks.
func (im *Image) writeBitmapsLocked(pendingOnly bool) error {
	for i := range im.cache.slots {
		s := &im.cache.slots[i]
		if !s.dirty || (pendingOnly && !testBit(im.dirty.pending, int(s.block))) {
			continue
		}
		if err := im.storeBitmap(int(s.block), s.bits, int64(im.bat[s.block])*SectorSize); err != nil {
			return fmt.Errorf("write bitmap of block %d: %w", s.block, err)
		}
		s.dirty = false
	}
	return nil
}

// writeBATLocked writes each BAT sector that names a new block.
func (im *Image) writeBATLocked() error {
	d := &im.dirty
	perSector := SectorSize / 4
	for sec := 0; sec*perSector < len(im.bat); sec++ {
		if !testBit(d.batSectors, sec) {
			continue
		}
		entries := im.bat[sec*perSector : min((sec+1)*perSector, len(im.bat))]
		buf := d.batBuf[:]
		off := int64(im.header.TableOffset) + int64(sec)*SectorSize
		if len(entries) < perSector {
			// The last sector's padding is the producer's: keep it.
			if err := readFull(im.file, buf, off); err != nil {
				return fmt.Errorf("read BAT sector %d: %w", sec, err)
			}
		}
		for i, e := range entries {
			binary.BigEndian.PutUint32(buf[4*i:], e)
		}
		if _, err := im.file.WriteAt(buf, off); err != nil {
			return fmt.Errorf("write BAT sector %d: %w", sec, err)
		}
		clearBit(d.batSectors, sec)
	}
	return nil
}
