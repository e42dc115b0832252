package libvhd

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// layer is one level of a chain below a differencing image: a VHD or a
// raw file. Offsets are virtual-disk offsets; reads past the layer's size
// return zeros (a child may be larger than its parent).
type layer interface {
	readAt(p []byte, off int64) error
	appendExtents(dst []Extent, off, n int64, depth int) ([]Extent, error)
	size() int64
	name() string
	next() layer
	close() error
	tally() (hits, fail [2]uint64)
}

// openParent resolves the parent as blktap does: locators relative to the
// child's folder first, then absolute ones, then the header's parent name
// in the child's folder. Each candidate that exists must pass the parent
// policy (parentpolicy.go); a VHD's UUID must match the header's.
func (im *Image) openParent(opts OpenOptions, depth int) error {
	if !im.ParentRaw() && im.header.ParentUUID == im.footer.UUID {
		// Else a file naming itself opens MaxChainDepth times over.
		return fmt.Errorf("%w: the header names the image's own UUID %s", ErrParentUUID, im.footer.UUID)
	}
	pol := newParentPolicy(im.path, opts.FS, opts.ParentDirs)
	var tried []string
	var mismatch error
	for _, c := range im.parentCandidates() {
		l, err := im.openCandidate(c, pol, opts, depth)
		switch {
		case errors.Is(err, os.ErrNotExist):
			tried = append(tried, c.path)
			continue
		case errors.Is(err, ErrParentUUID):
			mismatch = err
			continue
		case err != nil:
			return fmt.Errorf("open parent: %w", err)
		}
		if p, ok := l.(*Image); ok && p.footer.Type == Differencing {
			if err := p.openParent(opts, depth+1); err != nil {
				p.Close()
				return fmt.Errorf("open parent: %s: %w", c.path, err)
			}
		}
		im.parent = l
		return nil
	}
	if mismatch != nil {
		return mismatch
	}
	return fmt.Errorf("%w: %q (tried %s)", ErrParentNotFound, im.header.ParentNameString(), strings.Join(tried, ", "))
}

// openCandidate opens c, read-only and without its own parent, if the
// policy admits it and it is the parent the header names: a VHD with the
// header's parent UUID, or for a null UUID a raw file or device covering
// the child. The layer keeps c's name, so that its own relative locators
// resolve from where the child named it, as blktap resolves them.
func (im *Image) openCandidate(c parentCandidate, pol parentPolicy, opts OpenOptions, depth int) (layer, error) {
	real, err := pol.admit(c)
	if err != nil {
		return nil, err
	}
	opts.ReadOnly = true
	if im.ParentRaw() {
		r, err := openRaw(real, opts)
		if err != nil {
			return nil, err
		}
		if r.sz < im.Size() {
			r.close()
			return nil, fmt.Errorf("%w: %s leads to %s, a raw parent of %d bytes: a raw parent must cover the child's %d", ErrParentRefused, c.source, real, r.sz, im.Size())
		}
		r.path = c.path
		return r, nil
	}
	// The candidate's own parent is opened only once its UUID matches,
	// so a locator naming the child itself cannot recurse.
	opts.NoParent = true
	p, err := openDepth(real, opts, depth+1)
	if err != nil {
		return nil, err
	}
	p.path = c.path
	if p.footer.UUID != im.header.ParentUUID {
		p.Close()
		return nil, fmt.Errorf("%w: %s has %s, header wants %s", ErrParentUUID, c.path, p.footer.UUID, im.header.ParentUUID)
	}
	return p, nil
}

// parentCandidates lists the files to try, in order, without duplicates.
func (im *Image) parentCandidates() []parentCandidate {
	var rel, abs []parentCandidate
	for _, lp := range im.locatorPaths() {
		if c, ok := im.locatorCandidate(lp); ok && lp.relative {
			rel = append(rel, c)
		} else if ok {
			abs = append(abs, c)
		}
	}
	out := append(rel, abs...)
	if name := im.header.ParentNameString(); name != "" {
		path := filepath.Join(filepath.Dir(im.path), filepath.Base(strings.ReplaceAll(name, `\`, "/")))
		out = append(out, parentCandidate{path: path, source: fmt.Sprintf("header parent name %q", name)})
	}
	seen := map[string]bool{}
	uniq := out[:0]
	for _, c := range out {
		if !seen[c.path] {
			seen[c.path] = true
			uniq = append(uniq, c)
		}
	}
	return uniq
}

// locatorCandidate is the file a decoded locator names, as Open resolves
// it; ok is false for paths that cannot be resolved here (a drive letter).
func (im *Image) locatorCandidate(lp LocatorPath) (parentCandidate, bool) {
	c := parentCandidate{path: lp.path, source: fmt.Sprintf("locator[%d] %s %q", lp.Slot, codeName(lp.Code), lp.path)}
	if lp.relative {
		c.path = filepath.Join(filepath.Dir(im.path), lp.path)
		return c, true
	}
	return c, filepath.IsAbs(lp.path)
}

// LocatorPath is one decoded parent locator.
type LocatorPath struct {
	Slot     int
	Code     uint32
	path     string
	relative bool
}

// Path is the decoded, slash-separated path.
func (l LocatorPath) Path() string { return l.path }

// Relative reports whether the path is relative to the child's folder.
func (l LocatorPath) Relative() bool { return l.relative }

// locatorPaths decodes every readable locator; unreadable ones are skipped.
func (im *Image) locatorPaths() []LocatorPath {
	var out []LocatorPath
	for i, l := range im.header.Locators {
		if l.Code == LocatorNone || l.DataLen == 0 {
			continue
		}
		data, err := readLocatorData(im.file, im.fileSize, l)
		if err != nil {
			continue
		}
		if p, relative, ok := decodeLocator(l.Code, data); ok {
			out = append(out, LocatorPath{Slot: i, Code: l.Code, path: p, relative: relative})
		}
	}
	return out
}

// Locators decodes the image's parent locators.
func (im *Image) Locators() []LocatorPath { return im.locatorPaths() }

// rawLayer is a raw file or block device as the base of a chain
// (vhd-util snapshot -m).
type rawLayer struct {
	path string
	f    File
	sz   int64
	counts
}

// openRaw opens a raw parent read-only, locked shared unless opts.NoLock.
func openRaw(path string, opts OpenOptions) (*rawLayer, error) {
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	opts.ReadOnly = true
	f, err := opts.FS.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, err
	}
	if err := lockImage(f, opts); err != nil {
		f.Close()
		return nil, err
	}
	sz, err := f.Size()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("size of %s: %w", path, err)
	}
	return &rawLayer{path: path, f: f, sz: sz}, nil
}

func (r *rawLayer) readAt(p []byte, off int64) error {
	n := clipRead(p, off, r.sz)
	if n == 0 {
		return nil
	}
	err := readFull(r.f, p[:n], off)
	r.note(countRead, err)
	return err
}

func (r *rawLayer) appendExtents(dst []Extent, off, n int64, depth int) ([]Extent, error) {
	in := max(min(n, r.sz-off), 0)
	dst = appendExtent(dst, Extent{Offset: off, Length: in, Layer: depth})
	return appendExtent(dst, Extent{Offset: off + in, Length: n - in, Layer: Unallocated}), nil
}

func (r *rawLayer) size() int64  { return r.sz }
func (r *rawLayer) name() string { return r.path }
func (r *rawLayer) next() layer  { return nil }
func (r *rawLayer) close() error { return r.f.Close() }

// clipRead zero-fills the part of p past size and returns how many leading
// bytes of p lie within size.
func clipRead(p []byte, off, size int64) int64 {
	n := int64(len(p))
	if off >= size {
		clear(p)
		return 0
	}
	if off+n > size {
		clear(p[size-off:])
		n = size - off
	}
	return n
}

// Image as a layer of its child's chain.
func (im *Image) readAt(p []byte, off int64) error {
	n := clipRead(p, off, im.Size())
	if n == 0 {
		return nil
	}
	err := im.read(p[:n], off)
	im.note(countRead, err)
	return err
}

func (im *Image) size() int64  { return im.Size() }
func (im *Image) name() string { return im.path }
func (im *Image) next() layer  { return im.parent }
func (im *Image) close() error { return im.Close() }
