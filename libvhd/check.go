package libvhd

import (
	"fmt"
	"os"
	"time"
)

// Check verifies an image the way `vhd-util check` does. Unlike Open, it
// does not stop at the first problem or recover silently: it reads the raw
// structures and reports every inconsistency it can see, so a storage
// manager can tell a damaged image from a healthy one. The checks:
//
//   - footer: cookie, checksum, features, version, data offset, timestamp
//     not in the future, geometry consistent with the size, disk type,
//     saved/hidden flags, reserved bytes, UUID; the copy at offset 0
//     identical to the EOF footer;
//   - dynamic header: cookie, checksum, version, next offset, block size,
//     table size, parent fields only on differencing disks;
//   - BAT: no block overlapping metadata, another block or the footer;
//   - batmap: cookie, version, checksum, no full bit on an unallocated
//     block (with Bitmaps: nor on a block whose bitmap is not full);
//   - with Data, blocks: zeros under every clear bitmap bit, the bitmap
//     read in the image's own bit order (bitorder.go);
//   - parent locators: in range, known and distinct codes, decoding to
//     the parent; the parent present with the UUID the header names.

// timestampSlack is how far in the future a footer timestamp may be
// (clock skew between hosts), as blktap allows.
const timestampSlack = 30 * time.Minute

// CheckOptions select what Check verifies beyond the image itself.
type CheckOptions struct {
	Parents bool // also check every image down the chain (-p)
	Bitmaps bool // also compare every full batmap bit with its bitmap (-b)
	// IgnoreTimestamps skips the "footer timestamp in the future" check (-t).
	IgnoreTimestamps bool
	// IgnoreMissingFooter accepts a damaged EOF footer when the copy at
	// offset 0 is good (-i): `vhd-util repair` fixes that case.
	IgnoreMissingFooter bool
	// NoOverlap skips the BAT overlap checks (-B), for huge images.
	NoOverlap bool
	// Data also reads every allocated block: a sector whose bitmap bit
	// is clear must hold zeros (blktap's check -b).
	Data bool
	Now  func() time.Time // default time.Now
	FS   FS               // default OSFS
}

// Problem is one inconsistency found by Check.
type Problem struct {
	Path      string `json:"path"`      // file the problem is in
	Structure string `json:"structure"` // e.g. "footer", "header", "bat[12]", "batmap", "locator[1]"
	Offset    int64  `json:"offset"`    // byte offset of the structure in the file, -1 if none
	Msg       string `json:"message"`
}

func (p Problem) String() string {
	if p.Offset < 0 {
		return fmt.Sprintf("%s: %s: %s", p.Path, p.Structure, p.Msg)
	}
	return fmt.Sprintf("%s: %s at %#x: %s", p.Path, p.Structure, p.Offset, p.Msg)
}

// Check verifies path and, with opts.Parents, its ancestors. It returns the
// problems found; the error is for a file it could not read at all.
func Check(path string, opts CheckOptions) ([]Problem, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FS == nil {
		opts.FS = OSFS{}
	}
	var all []Problem
	for depth := 1; path != ""; depth++ {
		if depth > MaxChainDepth {
			return all, fmt.Errorf("check %s: %w", path, ErrChainTooDeep)
		}
		c, err := checkOne(path, opts)
		if err != nil {
			return all, err
		}
		all = append(all, c.problems...)
		if !opts.Parents {
			break
		}
		path = c.parentVHD
	}
	return all, nil
}

// checker holds what one image's checks learn as they go.
type checker struct {
	opts      CheckOptions
	path      string
	f         File
	size      int64
	problems  []Problem
	footer    Footer
	footerOff int64 // where the EOF footer is (or should be)
	// shell is an Image holding just the fields the parent lookup reads,
	// so Check resolves parents exactly as Open does.
	shell     *Image
	regions   []region // metadata extents, for the overlap checks
	parentVHD string   // parent to check next with Parents; "" if none
}

// region is a named byte range [off, end) of the file.
type region struct {
	name     string
	off, end int64
}

func (c *checker) add(structure string, off int64, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: c.path, Structure: structure, Offset: off, Msg: fmt.Sprintf(format, args...)})
}

func checkOne(path string, opts CheckOptions) (*checker, error) {
	f, err := opts.FS.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil {
		return nil, fmt.Errorf("%s: size: %w", path, err)
	}
	c := &checker{opts: opts, path: path, f: f, size: size}
	if err := c.run(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// run checks each structure in turn; it stops where a broken structure
// leaves the next one unlocatable.
func (c *checker) run() error {
	ok, err := c.checkFooters()
	if err != nil || !ok {
		return err
	}
	c.checkFooterFields()
	if c.footer.Type == Fixed {
		if int64(c.footer.CurrentSize) > c.footerOff {
			c.add("footer", c.footerOff, "current size %d runs past the footer at %#x", c.footer.CurrentSize, c.footerOff)
		}
		return nil
	}
	if c.footer.Type != Dynamic && c.footer.Type != Differencing {
		return nil
	}
	h, ok, err := c.checkHeader()
	if err != nil || !ok {
		return err
	}
	bat, ok, err := c.readBAT(h)
	if err != nil || !ok {
		return err
	}
	bm, err := c.checkBatmapHeader(h, len(bat))
	if err != nil {
		return err
	}
	c.shell = &Image{path: c.path, file: c.f, fsys: c.opts.FS, readOnly: true, footer: c.footer, header: h, fileSize: c.size}
	c.checkLocators(h)
	if !c.opts.NoOverlap {
		c.checkOverlaps(h, bat)
	}
	if bm != nil {
		if err := c.checkBatmapBits(h, bat, bm); err != nil {
			return err
		}
	}
	if c.opts.Data {
		if err := c.checkData(h, bat); err != nil {
			return err
		}
	}
	if c.footer.Type == Differencing {
		c.checkParent(h)
	}
	return nil
}
