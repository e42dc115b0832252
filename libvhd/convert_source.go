package libvhd

import (
	"bytes"
	"io"
)

// LooksLikeVHD reports whether a file of size bytes holds a VHD: its
// footer's cookie at the end (or 511 bytes from it, as old producers
// wrote it) or at offset 0, where dynamic images keep a copy. Only the
// cookie is looked at, so that a damaged VHD is still taken for one
// (and Open says what is wrong) rather than read as a raw disk.
func LooksLikeVHD(r io.ReaderAt, size int64) (bool, error) {
	var b [len(footerCookie)]byte
	for _, off := range []int64{size - FooterSize, size - FooterSize + 1, 0} {
		if off < 0 || off+int64(len(b)) > size {
			continue
		}
		if _, err := r.ReadAt(b[:], off); err != nil {
			return false, err
		}
		if bytes.Equal(b[:], footerCookie[:]) {
			return true, nil
		}
	}
	return false, nil
}
