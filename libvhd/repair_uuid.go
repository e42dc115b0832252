package libvhd

import "github.com/google/uuid"

// GiveUUID gives an image whose footer has a null unique id a new one
// (as `vhd-util repair` does): a child names its parent by that id, so an
// image without one cannot be snapshotted safely. given reports whether
// it had to; an image with an id is left untouched.
func GiveUUID(path string, fsys FS) (given bool, err error) {
	err = maintain(path, fsys, func(im *Image) error {
		if im.footer.UUID != uuid.Nil {
			return nil
		}
		f := im.footer
		f.UUID = uuid.New()
		given = true
		return im.rewriteFooterLocked(f)
	})
	return given, err
}
