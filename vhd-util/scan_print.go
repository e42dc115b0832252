package main

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// lines renders the scan, as a list or (-p) as a tree.
func (c *scanCmd) lines(all []scanned) []string {
	if !c.Pretty {
		out := make([]string, len(all))
		for i, s := range all {
			out[i] = c.line(s, 0, false)
		}
		return out
	}
	byPath := map[string]bool{}
	children := map[string][]scanned{}
	for _, s := range all {
		byPath[absPath(s.Name)] = true
	}
	var roots []scanned
	for _, s := range all {
		if s.Parent != "" && byPath[absPath(s.Parent)] {
			children[absPath(s.Parent)] = append(children[absPath(s.Parent)], s)
		} else {
			roots = append(roots, s)
		}
	}
	var out []string
	var walk func(list []scanned, depth int)
	walk = func(list []scanned, depth int) {
		// Visible images first, then hidden ones, each by name (blktap's order).
		slices.SortFunc(list, func(a, b scanned) int {
			return cmp.Or(cmp.Compare(a.Hidden, b.Hidden), strings.Compare(a.Name, b.Name))
		})
		for _, s := range list {
			out = append(out, c.line(s, depth, s.Parent != "" && !byPath[absPath(s.Parent)]))
			walk(children[absPath(s.Name)], depth+1)
		}
	}
	walk(roots, 0)
	return out
}

// line is blktap's scan line for one image.
func (c *scanCmd) line(s scanned, depth int, orphan bool) string {
	pad := strings.Repeat(" ", 3*depth)
	if s.Errno != 0 {
		return fmt.Sprintf("%svhd=%s scan-error=%d error-message='%s'", pad, s.Name, s.Errno, s.Message)
	}
	name, parent := s.Name, s.Parent
	if !c.Verbose {
		name, parent = filepath.Base(name), filepath.Base(parent)
	}
	if s.Parent == "" {
		parent = "none"
	}
	note := ""
	if orphan {
		note = " (not found in scan)"
	}
	return fmt.Sprintf("%svhd=%s capacity=%d size=%d hidden=%d parent=%s%s", pad, name, s.Capacity, s.Size, s.Hidden, parent, note)
}
