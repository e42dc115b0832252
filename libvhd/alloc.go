package libvhd

import "fmt"

// blockAlign is where each block's data starts: a multiple of 4 KiB, so
// data I/O stays aligned for O_DIRECT and for the host's page cache.
const blockAlign = 4096

// maxBlockOffset is the last byte offset a BAT entry (u32 sectors) can name.
const maxBlockOffset = int64(unallocated-1) * SectorSize

// allocateLocked places block blk at the end of the file and writes the
// first data into it. The order keeps the file a valid image at every
// instant, whatever write is the last to reach the disk:
//
//  1. the new EOF footer, past the new block: the file never lacks one;
//  2. zeros over whatever the file held where the block goes (the old
//     footer), except the bytes this request writes;
//  3. the bitmap with just the request's bits, and the data.
//
// The BAT entry stays in memory until Flush has made all of it durable
// (flush.go), so nothing on disk points at the block before then.
func (im *Image) allocateLocked(blk int, data []byte, in int64) error {
	base := max(im.dataEnd, im.footerOff)
	pos := roundUp(base+im.bmSize, blockAlign) - im.bmSize
	dataOff := pos + im.bmSize
	end := dataOff + im.blockSize
	if pos > maxBlockOffset {
		return fmt.Errorf("allocate block %d: file would pass 2 TiB, beyond what a BAT entry can address", blk)
	}
	i, err := im.freeSlotLocked()
	if err != nil {
		return err
	}

	if _, err := im.file.WriteAt(im.footerBuf[:], end); err != nil {
		return fmt.Errorf("write footer: %w", err)
	}
	oldSize := im.fileSize
	im.footerOff, im.fileSize, im.repairEOF = end, max(oldSize, end+FooterSize), false

	wStart, wEnd := dataOff+in, dataOff+in+int64(len(data))
	if old := min(oldSize, end); base < old {
		// Old bytes lie in [base, old): keep only what the request covers.
		if err := zeroOutside(im.file, base, old, wStart, wEnd); err != nil {
			return fmt.Errorf("erase old bytes: %w", err)
		}
	}

	s := im.cache.assign(i, blk)
	clear(s.bits)
	setBits(s.bits, int(in/SectorSize), int((in+int64(len(data)))/SectorSize))
	if _, err := im.file.WriteAt(s.bits, pos); err != nil {
		im.cache.release(i)
		return fmt.Errorf("write bitmap: %w", err)
	}
	if _, err := im.file.WriteAt(data, wStart); err != nil {
		im.cache.release(i)
		return fmt.Errorf("write data: %w", err)
	}

	im.bat[blk] = uint32(pos / SectorSize)
	im.dataEnd = end
	im.dirty.allocated(blk)
	im.noteIfFull(blk, s.bits)
	return nil
}

// zeroOutside writes zeros over [from, to) except [keepFrom, keepTo).
func zeroOutside(f File, from, to, keepFrom, keepTo int64) error {
	if a, b := from, min(to, keepFrom); a < b {
		if err := writeZeros(f, a, b-a); err != nil {
			return err
		}
	}
	if a, b := max(from, keepTo), to; a < b {
		return writeZeros(f, a, b-a)
	}
	return nil
}
