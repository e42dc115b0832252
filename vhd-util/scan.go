package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"

	"gotap.dev/libvhd"
)

type scanCmd struct {
	output
	Fast    bool     `short:"f" help:"Take each parent from the header's parent name instead of finding it through the locators."`
	Match   string   `short:"m" placeholder:"GLOB" help:"Scan the files matching GLOB (of FILES, only those matching it)."`
	Pretty  bool     `short:"p" help:"Print each image under its parent, indented three spaces per level."`
	Parents bool     `short:"a" help:"Also scan the parents of the images found."`
	Verbose bool     `short:"v" help:"Print full paths instead of base names."`
	Files   []string `arg:"" optional:"" name:"FILES" help:"Images to scan."`
}

func (scanCmd) Help() string {
	return `Prints one line per image:
  vhd=NAME capacity=BYTES size=BYTES hidden=0|1 parent=NAME|none
capacity is the virtual size, size the file's. An image that cannot be read
prints "vhd=NAME scan-error=-ERRNO error-message='...'" and makes the exit
status 2. With -p, children follow their parent, indented; a parent not
among the images scanned is marked "(not found in scan)".

Example:
  vhd-util scan -f -p -m '/srv/sr/*.vhd'`
}

// scanned is one image's line.
type scanned struct {
	Name     string `json:"name"`
	Capacity int64  `json:"capacity"`
	Size     int64  `json:"size"`
	Hidden   uint8  `json:"hidden"`
	Parent   string `json:"parent,omitempty"`
	Errno    int    `json:"scan_error,omitempty"`
	Message  string `json:"error_message,omitempty"`
}

func (c *scanCmd) Run(e *env) error {
	targets, err := c.targets()
	if err != nil {
		return err
	}
	var out []scanned
	seen := map[string]bool{}
	for len(targets) > 0 {
		p := targets[0]
		targets = targets[1:]
		if seen[absPath(p)] {
			continue
		}
		seen[absPath(p)] = true
		s := c.scanOne(p)
		out = append(out, s)
		if c.Parents && s.Parent != "" {
			targets = append(targets, s.Parent)
		}
	}
	lines := c.lines(out)
	if err := c.print(e.stdout, out, lines...); err != nil {
		return err
	}
	if n := slices.IndexFunc(out, func(s scanned) bool { return s.Errno != 0 }); n >= 0 {
		return invalidf("%s: %s", out[n].Name, out[n].Message)
	}
	return nil
}

// targets is FILES (filtered by -m) and the files -m matches.
func (c *scanCmd) targets() ([]string, error) {
	if c.Match == "" {
		if len(c.Files) == 0 {
			return nil, usagef("nothing to scan: give FILES or -m GLOB")
		}
		return c.Files, nil
	}
	if _, err := filepath.Match(c.Match, ""); err != nil {
		return nil, usagef("-m %q: %v", c.Match, err)
	}
	var out []string
	for _, f := range c.Files {
		full, _ := filepath.Match(c.Match, f)
		base, _ := filepath.Match(c.Match, filepath.Base(f))
		if full || base {
			out = append(out, f)
		}
	}
	globbed, _ := filepath.Glob(c.Match) // the pattern was checked above
	return append(out, globbed...), nil
}

// scanOne reads one image's footer and header; Parent is the parent's
// path (found, or else as the header names it beside the image).
func (c *scanCmd) scanOne(path string) scanned {
	s := scanned{Name: path}
	im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true, NoParent: true, NoLock: true, AllowDisabled: true})
	if err == nil {
		defer im.Close()
		var st os.FileInfo
		st, err = os.Stat(path)
		if err == nil {
			s.Hidden, err = im.Hidden()
		}
		if err == nil {
			s.Capacity, s.Size = im.Size(), st.Size()
			s.Parent = c.parentOf(im)
			return s
		}
	}
	s.Errno, s.Message = -int(errnoOf(err)), strings.ReplaceAll(err.Error(), "'", `"`)
	return s
}

func (c *scanCmd) parentOf(im *libvhd.Image) string {
	if im.Type() != libvhd.Differencing {
		return ""
	}
	if !c.Fast {
		if p, err := im.LocateParent(); err == nil {
			return p
		}
	}
	h, _ := im.Header()
	name := strings.ReplaceAll(h.ParentNameString(), `\`, "/")
	return filepath.Join(filepath.Dir(im.Path()), filepath.Base(name))
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}
