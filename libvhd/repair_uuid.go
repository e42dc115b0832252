package libvhd

import "github.com/google/uuid"

// GiveUUID gives an image whose footer has a null unique id a new one
// (as `vhd-util repair` does): a child names its parent by that id, so an
// image without one cannot be snapshotted safely. The EOF footer is
// written first, then the copy at offset 0; a crash between them leaves
// the copy's id null, which a second call completes. given reports
// whether it wrote; an image with its id in both footers is untouched.
func GiveUUID(path string, fsys FS) (given bool, err error) {
	err = maintain(path, fsys, func(im *Image) error {
		f := im.footer
		switch {
		case f.UUID == uuid.Nil:
			f.UUID = uuid.New()
		case f.Type == Fixed: // no copy at offset 0
			return nil
		default:
			var cp [FooterSize]byte
			if err := readFull(im.file, cp[:], 0); err != nil {
				return err
			}
			if uuid.UUID(cp[0x44:0x54]) != uuid.Nil {
				return nil
			}
		}
		given = true
		return im.rewriteFooterLocked(f)
	})
	return given, err
}
