package livesnap

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"

	"gotap.dev/libtap/disk"
	"gotap.dev/libvhd"
)

// maxSnapN bounds the search for a free default name: a folder holding
// that many snapshots of one disk is more likely a loop gone wrong.
const maxSnapN = 100000

// snapSuffix is the .snapN that DefaultName adds, stripped so that the
// snapshot of a.snap3.vhd is a.snap4.vhd, not a.snap3.snap1.vhd.
var snapSuffix = regexp.MustCompile(`\.snap[0-9]+$`)

// DefaultName is the n-th candidate name for a snapshot of the image at
// path: /srv/a.vhd, /srv/a.snap3.vhd and /srv/a.img all give
// /srv/a.snapN.vhd.
func DefaultName(path string, n int) string {
	base := snapSuffix.ReplaceAllString(path[:len(path)-len(filepath.Ext(path))], "")
	return base + ".snap" + strconv.Itoa(n) + ".vhd"
}

// leafPath makes a chosen name absolute: the tapdisk resolves it from
// another working directory.
func leafPath(name string) (string, error) {
	if name == "" {
		return "", nil
	}
	abs, err := filepath.Abs(name)
	if err != nil {
		return "", fmt.Errorf("leaf name: %w", err)
	}
	return abs, nil
}

// create makes the new leaf, a differencing VHD of parent, at name or
// else at the first free DefaultName. The file is created exclusively
// (O_EXCL), so an existing file is never overwritten, even one that
// appears between the choice of a name and its creation.
func create(parent disk.Spec, name string) (string, error) {
	if name != "" {
		return name, snapshot(name, parent)
	}
	for n := 1; n <= maxSnapN; n++ {
		name := DefaultName(parent.Path, n)
		if _, err := os.Lstat(name); err == nil {
			continue // cheaper than opening the parent chain to find out
		}
		err := snapshot(name, parent)
		if !errors.Is(err, fs.ErrExist) {
			return name, err
		}
	}
	return "", fmt.Errorf("no free name %s: %w", DefaultName(parent.Path, maxSnapN), fs.ErrExist)
}

// snapshot creates child on parent. It links to parent itself even when
// parent is an empty differencing image: the chain must be the one the
// VBD served, one level deeper.
func snapshot(child string, parent disk.Spec) error {
	im, err := libvhd.Snapshot(child, parent.Path, libvhd.SnapshotOptions{
		ParentRaw: parent.Type == "aio", KeepEmpty: true,
	})
	if err != nil {
		return err
	}
	if err := im.Close(); err != nil {
		return errors.Join(fmt.Errorf("close %s: %w", child, err), removeLeaf(child))
	}
	return nil
}

// removeLeaf deletes a leaf no one uses.
func removeLeaf(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
