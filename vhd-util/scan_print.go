package main

import (
	"cmp"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// tree renders -p: each image under its parent, as blktap orders it.
// Images are taken by name; the roots that are hidden come first, then
// the others; under a parent, visible children come before hidden ones.
func (c *scanCmd) tree(all []scanned) []string {
	var images []scanned
	for _, s := range all {
		if s.Errno == 0 { // error lines were printed as they came
			images = append(images, s)
		}
	}
	slices.SortFunc(images, func(a, b scanned) int { return strings.Compare(a.Name, b.Name) })
	byName := map[string]bool{}
	for _, s := range images {
		byName[s.Name] = true
	}
	children := map[string][]scanned{}
	var hiddenRoots, roots []scanned
	for _, s := range images {
		switch {
		case s.Parent != "" && byName[s.Parent]:
			children[s.Parent] = append(children[s.Parent], s)
		case s.Hidden != 0:
			hiddenRoots = append(hiddenRoots, s)
		default:
			roots = append(roots, s)
		}
	}
	var out []string
	printed := map[string]bool{}
	var walk func(s scanned, depth int)
	walk = func(s scanned, depth int) {
		if printed[s.Name] {
			return // a cycle of parents
		}
		printed[s.Name] = true
		out = append(out, c.line(s, depth, s.Parent != "" && !byName[s.Parent]))
		kids := children[s.Name]
		slices.SortStableFunc(kids, func(a, b scanned) int { return cmp.Compare(a.Hidden, b.Hidden) })
		for _, k := range kids {
			walk(k, depth+1)
		}
	}
	// Images in a cycle have no root: they come last, as blktap's.
	for _, s := range slices.Concat(hiddenRoots, roots, images) {
		walk(s, 0)
	}
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
	if orphan {
		parent += " (not found in scan)"
	}
	marker := ""
	if s.Marker != nil {
		marker = fmt.Sprintf("marker=%d keyhash=%s ", *s.Marker, s.KeyHash)
	}
	return fmt.Sprintf("%svhd=%s capacity=%d size=%d hidden=%d %sparent=%s", pad, name, s.Capacity, s.Size, s.Hidden, marker, parent)
}
