package libvhd

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"

	"gotap.dev/libvhd/imagefile"
)

// Images on block devices (LVHD: an LVM logical volume holding one VHD,
// as XenServer's storage manager lays them out). A device's size is
// fixed and usually larger than the image, so:
//
//   - the EOF footer is at the end of the image's data (its last block,
//     else its metadata), not at the end of the device; the bytes past it
//     are the device's, unused. Open and Check find that end from the
//     footer copy at offset 0, the header and the BAT, then treat the
//     device as a file of that size: every other rule is a file's;
//   - blocks are allocated up to the device's size, ENOSPC beyond; the
//     footer moves past each new block, unless it already lies further
//     (a volume inflated for a VM's writes, footer at its end);
//   - a new block's bytes are whatever the device held, not a hole's
//     zeros, so every byte the first write does not cover is zeroed
//     (readers that ignore a dynamic disk's bitmap must see zeros);
//   - moving the footer (`vhd-util modify -s`, a storage manager's
//     inflate and deflate) erases the old one instead of cutting the file;
//   - Create writes into an existing device (lvcreate made it), never
//     into an existing regular file.

// ErrDeviceTooSmall: the block device cannot hold the image's metadata
// (Create) or another block (a write). It matches ENOSPC.
var ErrDeviceTooSmall = fmt.Errorf("block device too small: %w", syscall.ENOSPC)

// isBlockDevice says whether f is a block device, by its Stat: an
// OSFiler's file's (another FS's file of the real file system), or its
// own (*os.File and every File wrapping one); a File with neither is a
// regular file.
func isBlockDevice(f File) bool {
	var s interface{ Stat() (fs.FileInfo, error) }
	switch f := f.(type) {
	case OSFiler:
		s = f.OSFile()
	case interface{ Stat() (fs.FileInfo, error) }:
		s = f
	default:
		return false
	}
	st, err := s.Stat()
	return err == nil && imagefile.IsBlockDevice(st.Mode())
}

// imageSize is the size a file holding an image counts as: its own for a
// regular file and for a device whose last sector is the footer (a
// storage manager inflates a volume by moving the footer there: `vhd-util
// modify -s`); else, on a block device, the end of the image's EOF
// footer (lvhdEnd). devSize is the device's size, 0 for a regular file.
func imageSize(f File, path string) (size, devSize int64, err error) {
	size, err = f.Size()
	if err != nil || !isBlockDevice(f) {
		return size, 0, err
	}
	var buf [FooterSize]byte
	if size >= FooterSize && readFull(f, buf[:], size-FooterSize) == nil {
		if _, err := ParseFooter(buf[:]); err == nil {
			return size, size, nil
		}
	}
	return lvhdEnd(f, path, size), size, nil
}

// allocBaseLocked is where a new block may start: past the data and the
// footer, which moves after the block; but on a device whose footer
// lies past the data (an inflated volume), right after the data, the
// footer staying where it is until the blocks reach it.
func (im *Image) allocBaseLocked() int64 {
	if im.devSize > 0 && im.footerOff > im.dataEnd && !im.repairEOF {
		return im.dataEnd
	}
	return max(im.dataEnd, im.fileSize)
}

// lvhdEnd is where the EOF footer of the image on a device of devSize
// bytes ends: after the end of its data, as the footer copy at offset 0,
// the header and the BAT say. An image without a usable copy (a fixed
// one, or damaged) keeps the device's size: the ordinary rules (a footer
// at the very end, else the copy) then apply and say what is wrong.
func lvhdEnd(f File, path string, devSize int64) int64 {
	var buf [FooterSize]byte
	if readFull(f, buf[:], 0) != nil {
		return devSize
	}
	ft, err := ParseFooter(buf[:])
	if err != nil || ft.Type == Fixed {
		return devSize
	}
	probe := &Image{path: path, file: f, readOnly: true, footer: ft, fileSize: devSize}
	ro := OpenOptions{ReadOnly: true, AllowDisabled: true}
	if probe.readHeader(ro) != nil || probe.readBAT() != nil {
		return devSize
	}
	probe.readBatmap()
	probe.measureMetadata()
	return min(roundUp(probe.dataEnd, SectorSize)+FooterSize, devSize)
}

// roomForLocked refuses a block ending at end (its EOF footer after it)
// on a device too small for it, before anything is written.
func (im *Image) roomForLocked(blk int, end int64) error {
	if im.devSize > 0 && end+FooterSize > im.devSize {
		return fmt.Errorf("allocate block %d: %w: the block and footer would end at %d, the device holds %d bytes", blk, ErrDeviceTooSmall, end+FooterSize, im.devSize)
	}
	return nil
}

// zeroBlockRestLocked zeroes, on a device, the bytes of a new block's
// data before and after the first write, [dataOff+in, dataOff+in+n).
func (im *Image) zeroBlockRestLocked(dataOff, in, n int64) error {
	if im.devSize == 0 {
		return nil
	}
	zeros := make([]byte, max(in, im.blockSize-in-n))
	if in > 0 {
		if _, err := im.file.WriteAt(zeros[:in], dataOff); err != nil {
			return fmt.Errorf("zero new block: %w", err)
		}
	}
	if rest := im.blockSize - in - n; rest > 0 {
		if _, err := im.file.WriteAt(zeros[:rest], dataOff+in+n); err != nil {
			return fmt.Errorf("zero new block: %w", err)
		}
	}
	return nil
}

// createFile opens path for a new image of need bytes: a new regular
// file, or an existing block device at least that large, exactly that
// large if exact (a fixed image's footer must end the device: it has no
// copy at offset 0 to find it by). created says which, so that a failed
// create removes only a file it made. An existing regular file is
// refused with EEXIST.
func createFile(fsys FS, path string, need int64, exact bool) (f File, created bool, err error) {
	f, err = fsys.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err == nil || !errors.Is(err, fs.ErrExist) {
		return f, err == nil, err
	}
	exist := err
	f, err = fsys.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, false, exist
	}
	if !isBlockDevice(f) {
		f.Close()
		return nil, false, exist
	}
	size, err := f.Size()
	switch {
	case err != nil:
	case size < need:
		err = fmt.Errorf("%w: the image needs %d bytes, %s holds %d", ErrDeviceTooSmall, need, path, size)
	case exact && size != need:
		err = fmt.Errorf("a fixed image fills its device: %s holds %d bytes, the image with its footer %d: %w", path, size, need, syscall.EINVAL)
	}
	if err == nil {
		err = eraseStaleFooter(f, size, need)
	}
	if err != nil {
		f.Close()
		return nil, false, err
	}
	return f, false, nil
}

// eraseStaleFooter zeroes a footer an earlier image left in the last
// sector of a device of size bytes (a volume reused after an inflated
// image): the new image of need bytes would otherwise be opened by it.
// It goes before the new image is written, so no crash leaves the new
// image with the old footer.
func eraseStaleFooter(f File, size, need int64) error {
	if size == need {
		return nil
	}
	var buf [FooterSize]byte
	if err := readFull(f, buf[:], size-FooterSize); err != nil {
		return err
	}
	if _, err := ParseFooter(buf[:]); err != nil {
		return nil
	}
	if _, err := f.WriteAt(make([]byte, FooterSize), size-FooterSize); err != nil {
		return fmt.Errorf("erase an old footer at the device's end: %w", err)
	}
	return f.Sync()
}

// moveDeviceFooterLocked writes the EOF footer at off on a device, which
// cannot be cut: the old footer is erased instead, once the new one is
// durable, so the device never holds two (an image reopened must not
// take a stale one at the device's end for its own).
func (im *Image) moveDeviceFooterLocked(off int64) error {
	if off+FooterSize > im.devSize {
		return fmt.Errorf("move footer to %d: %w: the device holds %d bytes", off, ErrDeviceTooSmall, im.devSize)
	}
	if _, err := im.file.WriteAt(im.footerBuf[:], off); err != nil {
		return fmt.Errorf("write footer: %w", err)
	}
	if err := im.file.Sync(); err != nil {
		return err
	}
	if old := im.footerOff; old != off && !im.repairEOF {
		if _, err := im.file.WriteAt(make([]byte, FooterSize), old); err != nil {
			return fmt.Errorf("erase old footer: %w", err)
		}
	}
	im.footerOff, im.fileSize, im.repairEOF = off, off+FooterSize, false
	return im.file.Sync()
}
