package vhdcreate

import (
	"errors"
	"io/fs"
	"testing"

	"gotap.dev/libvhd"
)

// cutFS is the OS's file system failing every write after the first *n.
type cutFS struct {
	libvhd.OSFS
	n *int
}

func (c cutFS) OpenFile(name string, flag int, perm fs.FileMode) (libvhd.File, error) {
	f, err := c.OSFS.OpenFile(name, flag, perm)
	return cutFile{f, c.n}, err
}

type cutFile struct {
	libvhd.File
	n *int
}

func (f cutFile) WriteAt(p []byte, off int64) (int, error) {
	if *f.n <= 0 {
		return 0, errors.New("cut")
	}
	*f.n--
	return f.File.WriteAt(p, off)
}

// CutResize grows the image at path to 4 GiB through journal, every
// write after the first n failing: a journaled operation cut short, as a
// full file system or a crash cuts it.
func CutResize(path, journal string, n int) error {
	return libvhd.Resize(path, 4<<30, libvhd.ResizeOptions{Journal: journal, FS: cutFS{n: &n}})
}

// Disable leaves the (small) image at path disabled, as a journaled
// resize cut short leaves it: `vhd-util revert -n path -j journal` gives
// it back.
func Disable(t testing.TB, path, journal string) {
	t.Helper()
	for n := 1; ; n++ {
		if err := CutResize(path, journal, n); err == nil {
			t.Fatalf("no write of the resize left %s disabled", path)
		}
		im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true})
		if errors.Is(err, libvhd.ErrPoisoned) {
			return
		}
		if err == nil {
			im.Close()
		}
	}
}
