package libvhd

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gotap.dev/libvhd/imagefile"
)

// The parent policy decides which file a differencing image may name as
// its parent. Whoever reads the child reads its parent's bytes in every
// sector the child has not written, so a crafted child must not reach an
// arbitrary host file or disk through a locator (/etc/shadow,
// ../../other-vm.vhd, /dev/sda) or through a null parent UUID, which
// makes any file a raw parent with no UUID to check. A candidate is
// admitted, once every symbolic link in its path is followed, when it is
//   - a regular file in the child's own folder, or
//   - a regular file or a block device at any depth under a folder the
//     operator allows (OpenOptions.ParentDirs and $GOTAP_PARENT_DIRS); a
//     block device also when the name the child gives lies in such a
//     folder, because an LVM volume group's /dev/VG/LV is a link that
//     udev (or LVM) makes to /dev/dm-N.
//
// FIFOs, sockets, character devices and directories never are. A raw
// parent must also cover the child's whole size (chain.go). Refusals
// wrap ErrParentRefused and say which locator named what, and the rule.

// ParentDirsEnv is the environment variable listing folders allowed to
// hold parents, colon-separated, for every tool at once.
const ParentDirsEnv = "GOTAP_PARENT_DIRS"

// allowHint tells the operator how to allow a folder.
const allowHint = "allow its folder with --parent-dir or " + ParentDirsEnv

// parentCandidate is a file a child names as its parent, and what names
// it, for the messages.
type parentCandidate struct {
	path   string
	source string // `locator[0] MacX "../base/p.vhd"`, `header parent name "p.vhd"`
}

// parentPolicy is the policy as it applies to one child.
type parentPolicy struct {
	fsys      FS
	childDirs []string // the child's folder, resolved, as named and as the child itself resolves
	allowed   []string // the allowed folders, resolved
}

// newParentPolicy builds the policy for child, allowing extra folders and
// those of $GOTAP_PARENT_DIRS (read here only). A folder that does not
// exist allows nothing and is left out.
func newParentPolicy(child string, fsys FS, extra []string) parentPolicy {
	p := parentPolicy{fsys: fsys}
	if d, _, err := resolvePath(fsys, filepath.Dir(child)); err == nil {
		p.childDirs = append(p.childDirs, d)
	}
	if c, _, err := resolvePath(fsys, child); err == nil {
		p.childDirs = append(p.childDirs, filepath.Dir(c))
	}
	dirs := append(slices.Clone(extra), filepath.SplitList(os.Getenv(ParentDirsEnv))...)
	for _, d := range dirs {
		if d == "" {
			continue
		}
		if r, mode, err := resolvePath(fsys, d); err == nil && mode.IsDir() {
			p.allowed = append(p.allowed, r)
		}
	}
	return p
}

// admit resolves c and returns the path to open if the policy admits it.
// A candidate that does not exist fails with an error wrapping
// fs.ErrNotExist, so that the caller tries the next one.
func (p parentPolicy) admit(c parentCandidate) (string, error) {
	real, mode, err := resolvePath(p.fsys, c.path)
	if err != nil {
		return "", err
	}
	refuse := func(rule string) error {
		return fmt.Errorf("%w: %s leads to %s: %s", ErrParentRefused, c.source, real, rule)
	}
	if kind := imagefile.Kind(mode); kind != "" {
		return "", refuse("a " + kind + " is never a parent")
	}
	if p.isAllowed(real) {
		return real, nil
	}
	if imagefile.IsBlockDevice(mode) {
		if d, _, err := resolvePath(p.fsys, filepath.Dir(c.path)); err == nil && p.isAllowed(filepath.Join(d, filepath.Base(c.path))) {
			return real, nil
		}
		return "", refuse("a block device is a parent only in an allowed folder (" + allowHint + ")")
	}
	if slices.Contains(p.childDirs, filepath.Dir(real)) {
		return real, nil
	}
	folder := "the child's folder"
	if len(p.childDirs) > 0 {
		folder += " " + p.childDirs[0]
	}
	return "", refuse(fmt.Sprintf("not in %s nor in an allowed one (%s)", folder, allowHint))
}

// isAllowed reports whether path lies under an allowed folder.
func (p parentPolicy) isAllowed(path string) bool {
	for _, d := range p.allowed {
		rel, err := filepath.Rel(d, path)
		if err == nil && rel != "." && rel != ".." && !strings.HasPrefix(rel, "../") {
			return true
		}
	}
	return false
}

// resolver is a file system whose names can be symbolic links, devices
// and FIFOs: the policy asks it where a name leads and what lies there.
// File systems without it (tests' in-memory ones) hold regular files
// only, under the names they are given.
type resolver interface {
	resolve(name string) (string, fs.FileMode, error)
}

func resolvePath(fsys FS, name string) (string, fs.FileMode, error) {
	if r, ok := fsys.(resolver); ok {
		return r.resolve(name)
	}
	return filepath.Clean(name), 0, nil
}

// resolve follows every symbolic link of name and stats what it leads
// to; the path returned is absolute.
func (OSFS) resolve(name string) (string, fs.FileMode, error) {
	real, err := filepath.EvalSymlinks(name)
	if err != nil {
		return "", 0, err
	}
	if real, err = filepath.Abs(real); err != nil {
		return "", 0, err
	}
	st, err := os.Stat(real)
	if err != nil {
		return "", 0, err
	}
	return real, st.Mode(), nil
}
