package libvhd

import (
	"fmt"
	"os"
	"regexp"
	"strings"
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
//   - BAT: no block overlapping metadata, another block or the footer
//     (what Open refuses for writing);
//   - batmap: cookie, version, checksum, no full bit on an unallocated
//     block (with Bitmaps: nor on a block whose bitmap is not full);
//   - with Data, blocks: zeros under every clear bitmap bit, the bitmap
//     read in the image's own bit order (bitorder.go);
//   - parent locators: in range, known and distinct codes, decoding to
//     the parent; the parent present with the UUID the header names, or
//     for a raw one covering the child, and admitted by the parent policy
//     (parentpolicy.go), as Open would take it.
//
// It reads the image in memory and time bounded by the file's size, not
// by what its header declares: problems of one kind past maxPerKind are
// counted, not listed, and blocks lying over others are not read.

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
	// NoOverlap does not report blocks over metadata or each other (-B);
	// they are still found, and not read by the Bitmaps and Data checks.
	NoOverlap bool
	// Data also reads every allocated block: a sector whose bitmap bit
	// is clear must hold zeros (blktap's check -b).
	Data bool
	// ParentDirs: see OpenOptions.ParentDirs. A parent the policy
	// refuses is reported as Open would refuse it.
	ParentDirs []string
	Now        func() time.Time // default time.Now
	FS         FS               // default OSFS
}

// Problem is one inconsistency found by Check.
type Problem struct {
	Path      string `json:"path"`      // file the problem is in
	Structure string `json:"structure"` // e.g. "footer", "header", "bat[12]", "batmap", "locator[1]"
	Offset    int64  `json:"offset"`    // byte offset of the structure in the file, -1 if none
	Msg       string `json:"message"`
	// More is, on the line that follows the last problem listed of a
	// kind, how many more of that kind were found (see maxPerKind).
	More int `json:"more,omitempty"`
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
	kinds     []problemKind       // of each problem listed
	perKind   map[problemKind]int // problems found of each kind, listed or not
	footer    Footer
	footerOff int64 // where the EOF footer is (or should be)
	// shell is an Image holding just the fields the parent lookup reads,
	// so Check resolves parents exactly as Open does.
	shell     *Image
	regions   []region // metadata extents, for the overlap checks
	parentVHD string   // parent to check next with Parents; "" if none
}

// maxPerKind is how many problems of one kind Check lists; one more line
// counts the rest, so that a table of a million bad entries makes a short
// report in bounded memory.
const maxPerKind = 10

// problemKind is what problems of one kind share: the structure they
// are in (without an index: "locator", not "locator[2]") and their format.
type problemKind struct{ structure, format string }

// add records a problem, listed if it is among the first of its kind.
func (c *checker) add(structure string, off int64, format string, args ...any) {
	if c.counted(structure, format) {
		c.list(structure, off, format, args...)
	}
}

// counted counts a problem and reports whether it is to be listed: a
// caller with many problems skips building those only counted.
func (c *checker) counted(structure, format string) bool {
	if c.perKind == nil {
		c.perKind = map[problemKind]int{}
	}
	k := kindOf(structure, format)
	c.perKind[k]++
	return c.perKind[k] <= maxPerKind
}

// list lists a problem counted.
func (c *checker) list(structure string, off int64, format string, args ...any) {
	c.problems = append(c.problems, Problem{Path: c.path, Structure: structure, Offset: off, Msg: fmt.Sprintf(format, args...)})
	c.kinds = append(c.kinds, kindOf(structure, format))
}

func kindOf(structure, format string) problemKind {
	family, _, _ := strings.Cut(structure, "[")
	return problemKind{family, format}
}

// finish follows the last problem listed of each kind that had more with
// a line counting them.
func (c *checker) finish() {
	var out []Problem
	listed := map[problemKind]int{}
	for i, p := range c.problems {
		out = append(out, p)
		k := c.kinds[i]
		listed[k]++
		if n := c.perKind[k] - maxPerKind; listed[k] == maxPerKind && n > 0 {
			out = append(out, Problem{Path: p.Path, Structure: k.structure, Offset: -1, Msg: fmt.Sprintf("and %d more: %s", n, kindLabel(k.format)), More: n})
		}
	}
	c.problems = out
}

// verb matches a formatting verb of the formats add takes.
var verb = regexp.MustCompile(`%[-+# 0]*[0-9]*(\.[0-9]+)?[a-zA-Z]`)

// kindLabel is a problem's format with its values left out:
// "block … at … overlaps the … at …".
func kindLabel(format string) string {
	return strings.ReplaceAll(verb.ReplaceAllLiteralString(format, "…"), "%%", "%")
}

func checkOne(path string, opts CheckOptions) (*checker, error) {
	f, err := opts.FS.OpenFile(path, os.O_RDONLY, 0)
	if err != nil {
		return nil, fmt.Errorf("open image: %w", err)
	}
	defer f.Close()
	size, _, err := imageSize(f, path)
	if err != nil {
		return nil, fmt.Errorf("%s: size: %w", path, err)
	}
	c := &checker{opts: opts, path: path, f: f, size: size}
	if err := c.run(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.finish()
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
	c.shell = &Image{path: c.path, file: c.f, fsys: c.opts.FS, readOnly: true, footer: c.footer, header: h, fileSize: c.size, parentDirs: c.opts.ParentDirs}
	c.checkLocators(h)
	bad := c.checkOverlaps(h, bat)
	if bm != nil {
		if err := c.checkBatmapBits(h, bat, bm, bad); err != nil {
			return err
		}
	}
	if c.opts.Data {
		if err := c.checkData(h, bat, bad); err != nil {
			return err
		}
	}
	if c.footer.Type == Differencing {
		c.checkParent(h)
	}
	return nil
}
