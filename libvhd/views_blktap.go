package libvhd

// Views of an image as blktap's vhd-util reports it, for scripts that
// parse its output (vhd-util query -s, scan on a block device).

// PhysicalEnd is where the image ends as blktap's `vhd-util query -s`
// says: the end of its data (its last block, else its metadata) plus the
// 512-byte EOF footer. It is not the file's size: on a block device (an
// LVM volume holding the image) that is the device's, larger or 0, and
// storage managers size volumes from this figure.
func (im *Image) PhysicalEnd() int64 {
	if im.footer.Type == Fixed {
		return int64(im.footer.CurrentSize) + FooterSize
	}
	im.mu.Lock()
	defer im.mu.Unlock()
	return roundUp(im.dataEnd, SectorSize) + FooterSize
}
