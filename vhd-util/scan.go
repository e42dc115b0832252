package main

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	"gotap.dev/libvhd"
)

type scanCmd struct {
	output
	Fast     bool     `short:"f" help:"Take each parent from the header's parent name instead of finding it through the locators (ignored with -p)."`
	Match    string   `short:"m" placeholder:"GLOB" help:"Scan the files matching GLOB, beside FILES."`
	Pretty   bool     `short:"p" help:"Print each image under its parent, indented three spaces per level; a parent not scanned is marked \" (not found in scan)\"."`
	Parents  bool     `short:"a" help:"Also scan the parents of the images found."`
	Verbose  bool     `short:"v" help:"Print full paths instead of base names."`
	Markers  bool     `short:"M" help:"Also print the batmap marker and the key hash: \"marker=N keyhash=HEX\" before parent=."`
	Continue bool     `short:"c" help:"Go on past an image that cannot be scanned (its error line printed) and exit 0."`
	VG       string   `short:"l" placeholder:"VG" help:"Scan the logical volumes of LVM volume group VG that GLOB matches, each holding one VHD (LVHD), instead of files: listed with lvs, inactive ones activated for the scan."`
	Files    []string `arg:"" optional:"" name:"FILES" help:"Images to scan."`
}

func (scanCmd) Help() string {
	return `Prints one line per image, as blktap:
  vhd=NAME capacity=BYTES size=BYTES hidden=0|1 parent=NAME|none
capacity is the virtual size, size the file's. The images are those GLOB
matches and FILES. An image that cannot be read prints
  vhd=NAME scan-error=-ERRNO error-message='MESSAGE'
(MESSAGE one of blktap's: "failure scanning target", "opening file",
"checking 'hidden' field", "checking markers", "getting parent",
"resolving name") and, without -c, ends the scan: stderr says "scan
failed: -ERRNO. Check syslog for details" (and gotap's reason), the exit
status is ERRNO. With -p, children follow their parent, indented (hidden
roots first; under a parent, visible children first), each by name;
error lines come first.

With -l VG the images are the logical volumes of LVM volume group VG
whose names GLOB matches, each holding one VHD (LVHD): vhd= and parent=
are volume names, size the volume's size. They are listed with lvs; a
volume not active is activated for the scan (lvchange -ay) and
deactivated after it.

Example:
  vhd-util scan -f -c -m '/srv/sr/*.vhd'
  vhd-util scan -f -c -l VG_XenStorage-SR -m 'VHD-*'
  vhd-util scan -p -a -v /srv/sr/leaf.vhd`
}

// scanTarget is one image to scan: the name printed and the file read.
// They are the same path for a file; an LVM volume (-l, scan_lvm.go) is
// named by its name, read through its device.
type scanTarget struct {
	name, device string
	vg           *volumeGroup // nil for a file
}

// scanned is one image's line.
type scanned struct {
	Name     string `json:"name"`
	Capacity int64  `json:"capacity"`
	Size     int64  `json:"size"`
	Hidden   uint8  `json:"hidden"`
	Marker   *uint8 `json:"marker,omitempty"`  // with -M
	KeyHash  string `json:"keyhash,omitempty"` // with -M, hex; "" without one
	Parent   string `json:"parent,omitempty"`  // as printed with -v: found, or as the image names it
	Errno    int    `json:"scan_error,omitempty"`
	Message  string `json:"error_message,omitempty"`
	err      error  // the reason, for stderr
	next     string // with -a: the parent file to scan
}

func (c *scanCmd) Run(e *env) error {
	if c.Match == "" && len(c.Files) == 0 {
		return usagef("nothing to scan: give FILES or -m GLOB")
	}
	if c.Pretty {
		c.Fast = false // as blktap: the tree needs the parents' real paths
	}
	targets, release, err := c.scanTargets(e.stderr)
	defer release()
	if err != nil {
		return err
	}
	var out []scanned
	var failed *scanned
	done := map[string]bool{} // base names scanned (blktap's -a test)
	for i := 0; i < len(targets); i++ {
		s := c.scanOne(targets[i])
		out = append(out, s)
		if !c.JSON && (s.Errno != 0 || !c.Pretty) {
			fmt.Fprintln(e.stdout, c.line(s, 0, false))
		}
		done[filepath.Base(targets[i].name)] = true
		if c.Parents && s.next != "" && !done[filepath.Base(s.next)] {
			done[filepath.Base(s.next)] = true
			targets = append(targets, parentTarget(targets[i], s.next))
		}
		if s.Errno != 0 && failed == nil {
			failed = &out[len(out)-1]
			if !c.Continue {
				break
			}
		}
	}
	switch {
	case c.JSON:
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
	case c.Pretty:
		for _, l := range c.tree(out) {
			fmt.Fprintln(e.stdout, l)
		}
	}
	if failed == nil || c.Continue {
		return nil
	}
	fmt.Fprintf(e.stderr, "scan failed: %d. Check syslog for details\n", failed.Errno)
	return fmt.Errorf("%s: %s: %w", failed.Name, failed.Message, failed.err)
}

// fileTargets is the union of the files GLOB matches and FILES, each once.
func (c *scanCmd) fileTargets() ([]scanTarget, error) {
	var names []string
	if c.Match != "" {
		globbed, err := filepath.Glob(c.Match)
		if err != nil {
			return nil, usagef("-m %q: %v", c.Match, err)
		}
		names = globbed
	}
	var out []scanTarget
	seen := map[string]bool{}
	for _, n := range append(names, c.Files...) {
		if !seen[absPath(n)] {
			seen[absPath(n)] = true
			out = append(out, scanTarget{name: n, device: n})
		}
	}
	return out, nil
}

// scanOne reads one image's footer and header, failing as blktap does,
// with its message for the step that failed.
func (c *scanCmd) scanOne(t scanTarget) scanned {
	s := scanned{Name: t.name}
	fail := func(msg string, err error) scanned {
		s.Errno, s.Message, s.err = -int(errnoOf(err)), msg, err
		return s
	}
	st, err := os.Stat(t.device)
	if err != nil {
		return fail("failure scanning target", err)
	}
	if c.Pretty && t.vg == nil {
		if s.Name, err = filepath.EvalSymlinks(absPath(t.name)); err != nil {
			s.Name = t.name
			return fail("resolving name", err)
		}
	}
	im, err := libvhd.Open(t.device, libvhd.OpenOptions{ReadOnly: true, NoParent: true, NoLock: true, AllowDisabled: true})
	if err != nil {
		return fail("opening file", err)
	}
	defer im.Close()
	s.Capacity, s.Size = im.Size(), st.Size()
	if t.vg != nil {
		s.Size = t.vg.size(t.name)
	}
	if s.Hidden, err = im.Hidden(); err != nil {
		return fail("checking 'hidden' field", err)
	}
	if c.Markers {
		bh, _, _ := im.Batmap()
		s.Marker = &bh.Marker
		if bh.KeyHash.Cookie == 1 {
			s.KeyHash = hex.EncodeToString(bh.KeyHash.Hash[:])
		}
	}
	if im.Type() == libvhd.Differencing {
		if s.Parent, s.next, err = c.parentOf(im, t.vg != nil); err != nil {
			return fail("getting parent", err)
		}
	}
	return s
}

// parentOf is the parent as blktap prints it (with -f or of a volume the
// header's parent name, else the file found, canonical; failing that
// what the first locator says) and the file -a scans next.
func (c *scanCmd) parentOf(im *libvhd.Image, volume bool) (name, file string, err error) {
	beside := func(n string) string { // a name relative to the image's folder
		if filepath.IsAbs(n) {
			return n
		}
		return filepath.Join(filepath.Dir(im.Path()), n)
	}
	h, _ := im.Header()
	if (c.Fast || volume) && h.ParentNameString() != "" {
		return h.ParentNameString(), beside(h.ParentNameString()), nil
	}
	if !c.Fast && !volume {
		if p, err := im.LocateParent(); err == nil {
			if p, err = canonPath(p); err == nil {
				return p, p, nil
			}
		}
	}
	locs := im.Locators()
	if len(locs) == 0 {
		return "", "", invalidf("no readable parent locator")
	}
	return locs[0].Path(), beside(locs[0].Path()), nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}
