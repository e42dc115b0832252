package libvhd

import (
	"io"
	"os"
)

// Bitmaps through the page cache. A driver that moves data with O_DIRECT
// would pay a device write for each bitmap update as well, so that a
// write into an allocated block costs two device round trips. A bitmap
// promises no more than the page cache gives anyway (markWrittenLocked:
// a process crash keeps it, a power cut keeps what a flush synced), so a
// PageCacheWriter gets the bitmap writes, where that is safe.
//
// It is safe where no block's data shares a page with the bitmap. The
// kernel keeps the two paths coherent when they take turns (an O_DIRECT
// read or write of a range first writes back the range's dirty pages),
// but a buffered write racing an O_DIRECT write to the same page leaves
// a dirty page with the old bytes of the direct write, written back over
// it later. Bitmaps are written under the image's lock, data outside it
// (io.go), so a bitmap beside data, as in images whose blocks are not
// page-aligned (QEMU's) or after a block ending mid-page, is written
// around the page cache like the data.

var pageSize = int64(os.Getpagesize())

// findBitmapPages marks, for a writable image with a PageCacheWriter, the
// blocks whose bitmaps lie alone in their pages.
func (im *Image) findBitmapPages() {
	if _, ok := im.file.(PageCacheWriter); !ok || im.readOnly {
		return
	}
	im.bitmapAlone = make([]byte, (len(im.bat)+7)/8)
	im.blocksEnd = 0 // the furthest end of the data of the blocks so far
	for _, k := range blocksByOffset(im.bat) {
		im.noteBitmapPages(k.block(), k.sector()*SectorSize)
	}
}

// bitmapPagesAlone reports whether the pages holding a bitmap of bmSize
// bytes at off hold no data: its block's starts on a page, and the data
// before it ends by the first page's start. Metadata may share them: it
// is written under the image's lock, as bitmaps are.
func bitmapPagesAlone(off, bmSize, dataBefore int64) bool {
	return (off+bmSize)%pageSize == 0 && off/pageSize*pageSize >= dataBefore
}

// noteBitmapPages marks or unmarks block blk, at pos, past every block
// noted before it.
func (im *Image) noteBitmapPages(blk int, pos int64) {
	if blk >= len(im.bitmapAlone)*8 {
		return
	}
	if bitmapPagesAlone(pos, im.bmSize, im.blocksEnd) {
		setBit(im.bitmapAlone, blk)
	} else {
		clearBit(im.bitmapAlone, blk)
	}
	im.blocksEnd = max(im.blocksEnd, pos+im.bmSize+im.blockSize)
}

// bitmapWriter is where block blk's bitmap is written.
func (im *Image) bitmapWriter(blk int) io.WriterAt {
	if w := im.pageCacheWriter(blk); w != nil {
		return w
	}
	return im.file
}

// pageCacheWriter is the writer for blk's bitmap through the page cache,
// or nil where it must go around it.
func (im *Image) pageCacheWriter(blk int) io.WriterAt {
	if blk < len(im.bitmapAlone)*8 && testBit(im.bitmapAlone, blk) {
		return im.file.(PageCacheWriter).PageCacheWriter()
	}
	return nil
}
