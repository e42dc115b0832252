package libvhd

import "fmt"

// blockAlign is where each block's data starts: a multiple of 4 KiB, so
// data I/O stays aligned for O_DIRECT and for the host's page cache.
const blockAlign = 4096

// maxBlockOffset is the last byte offset a BAT entry (u32 sectors) can name.
const maxBlockOffset = int64(unallocated-1) * SectorSize

// allocateLocked places block blk past the end of the file and writes the
// first data into it. The block lies wholly beyond the old end of file, so
// it starts as a hole (on a block device, zeroed: blockdev.go): it cannot
// expose stale bytes, and the old footer is never overwritten (it is left
// in the padding before the bitmap). Then:
//
//  1. the new EOF footer, past the new block: the file never lacks one,
//     whichever later writes reach the disk;
//  2. the bitmap with just the request's bits, and the data.
//
// Then the BAT entry, which must never reach the disk before the block
// does (the file's new size, the bitmap, the data): by default a sync
// and then the BAT sector (commitBlockLocked); with DeferMetadata it stays
// in memory until Flush does both (flush.go).
func (im *Image) allocateLocked(blk int, data []byte, in int64) error {
	base := im.allocBaseLocked()
	pos := roundUp(base+im.bmSize, blockAlign) - im.bmSize
	dataOff := pos + im.bmSize
	end := dataOff + im.blockSize
	if pos > maxBlockOffset {
		return fmt.Errorf("allocate block %d: file would pass 2 TiB, beyond what a BAT entry can address", blk)
	}
	if err := im.roomForLocked(blk, end); err != nil {
		return err
	}
	i, err := im.freeSlotLocked()
	if err != nil {
		return err
	}
	if end > im.footerOff || im.repairEOF {
		if _, err := im.file.WriteAt(im.footerBuf[:], end); err != nil {
			return fmt.Errorf("write footer: %w", err)
		}
		im.footerOff, im.fileSize, im.repairEOF = end, end+FooterSize, false
	}

	s := im.cache.assign(i, blk)
	clear(s.bits)
	setBits(s.bits, int(in/SectorSize), int((in+int64(len(data)))/SectorSize))
	im.noteBitmapPages(blk, pos)
	if err := im.storeBitmap(blk, s.bits, pos); err != nil {
		im.cache.release(i)
		return fmt.Errorf("write bitmap: %w", err)
	}
	if _, err := im.file.WriteAt(data, dataOff+in); err != nil {
		im.cache.release(i)
		return fmt.Errorf("write data: %w", err)
	}
	if err := im.zeroBlockRestLocked(dataOff, in, int64(len(data))); err != nil {
		im.cache.release(i)
		return err
	}

	im.bat[blk] = uint32(pos / SectorSize)
	im.dataEnd = end
	im.dirty.allocated(blk)
	im.noteIfFull(blk, s.bits)
	if im.deferMetadata {
		return nil
	}
	return im.commitBlockLocked()
}

// commitBlockLocked makes a new block durable, then writes the BAT sector
// that points at it (the write reaches the page cache: the next Flush
// makes it durable).
func (im *Image) commitBlockLocked() error {
	if err := im.file.Sync(); err != nil {
		return err
	}
	if err := im.writeBATLocked(); err != nil {
		im.dirty.unsynced = true
		return err
	}
	im.dirty.reachable()
	im.dirty.unsynced = true // the BAT sector
	return nil
}
