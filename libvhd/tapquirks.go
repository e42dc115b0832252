package libvhd

import (
	"bytes"
	"fmt"
)

// Footer quirks of blktap's creator versions 0.1 and 1.1, which blktap
// accepts and so does this package: their tools set the hidden byte
// without updating the checksum, and blktap reads a dynamic or
// differencing disk's hidden flag from the footer copy at offset 0, which
// may therefore differ from the EOF footer in that byte.

// tap11CreatorVersion is what vhd-update stamps on a converted 0.1 image.
const tap11CreatorVersion = 0x00010001

// hiddenQuirks reports whether the footer is one of a version with the
// quirks.
func (f *Footer) hiddenQuirks() bool {
	return f.CreatorApp == CreatorTap && (f.CreatorVersion == oldTapCreatorVersion || f.CreatorVersion == tap11CreatorVersion)
}

// hiddenOutsideChecksum reports whether sum, the checksum of the encoded
// footer with its hidden byte counted, matches the stored one once the
// hidden byte is left out: the checksum a quirky version stored before it
// set the flag. (Leaving a byte out of the sum raises the checksum, the
// sum's complement, by the byte's value.)
func (f *Footer) hiddenOutsideChecksum(sum uint32) bool {
	return f.Hidden != 0 && f.hiddenQuirks() && sum+uint32(f.Hidden) == f.Checksum
}

// footerCopyAgrees reports whether the footer copy at offset 0 says what
// the EOF footer eof (in use, decoded as f) says: the same bytes, or for
// the quirky versions the same bytes but the hidden flag and checksum.
func (f *Footer) footerCopyAgrees(cp, eof []byte) bool {
	if bytes.Equal(cp, eof) {
		return true
	}
	if f.Type == Fixed || !f.hiddenQuirks() {
		return false
	}
	mask := func(b []byte) []byte {
		m := bytes.Clone(b[:FooterSize])
		clear(m[0x40:0x44])
		m[0x55] = 0
		return m
	}
	return bytes.Equal(mask(cp), mask(eof))
}

// Hidden is blktap's hidden flag as blktap reads it: the footer's, but
// for a dynamic or differencing image of creator tap 0.1 or 1.1 the
// copy's at offset 0.
func (im *Image) Hidden() (uint8, error) {
	if im.footer.Type == Fixed || !im.footer.hiddenQuirks() {
		return im.footer.Hidden, nil
	}
	var buf [FooterSize]byte
	if err := readFull(im.file, buf[:], 0); err != nil {
		return 0, fmt.Errorf("%s: read footer copy: %w", im.path, err)
	}
	cp, err := ParseFooter(buf[:])
	if err != nil {
		return 0, fmt.Errorf("%s: footer copy at offset 0, where creator tap %#x keeps the hidden flag: %w", im.path, im.footer.CreatorVersion, err)
	}
	return cp.Hidden, nil
}
