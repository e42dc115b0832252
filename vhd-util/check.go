package main

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"

	"gotap.dev/libvhd"
)

type checkCmd struct {
	image
	output
	parents
	Parents         bool `short:"p" help:"Also check every parent down the chain: one \"PATH is valid\" line each (canonical path)."`
	Bitmaps         bool `short:"b" help:"Also read every block: data under a clear bitmap bit (\"sector 0x.. of block 0x.. has data where bitmap is clear\"), a bitmap not full under a full batmap bit."`
	NoTimestamps    bool `short:"t" name:"ignore-timestamps" help:"Do not flag footer timestamps in the future."`
	IgnoreFooter    bool `short:"i" name:"ignore-missing-footer" help:"Accept a damaged EOF footer when the copy at offset 0 is good."`
	IgnoreParentIDs bool `short:"I" name:"ignore-parent-uuid" help:"Do not compare the parent's UUID with the one the child's header names."`
	NoOverlapChecks bool `short:"B" name:"no-overlap" help:"Do not report blocks lying over metadata or each other (the fast check of multi-TB images; not with -s or -b)."`
	Stats           bool `short:"s" name:"stats" help:"Print blktap's statistics instead of \"is valid\": sectors allocated and written, and for a child those not in its parent nor its ancestors."`
}

func (checkCmd) Help() string {
	return `Verifies the footer and its copy, the dynamic header, the BAT (no block
overlapping metadata, another block or the footer), blktap's batmap and the
parent locators, and that the parent can be found and is one the parent
policy admits (see --parent-dir): what tapdisk would refuse, check reports.
Bitmaps are read in the image's own bit order (tap 0.1 images keep
blktap2's).

Prints "NAME is valid" (with -p, one more "PATH is valid" per parent) and
exits 0. An invalid image prints blktap's report on stdout: the first
problem in blktap's words, "NAME appears invalid; dumping metadata" and
the summaries of read -p; every problem found goes to stderr in gotap's
words, "FILE: STRUCTURE at OFFSET: problem" (past 10 of a kind, one line
counts the rest), and the exit status is 22 (EINVAL). Memory and time
follow the file's size, not the size its header declares.

-s prints, instead of "is valid", one line per image, the deepest parent
first:
  NAME: secs allocated: 0x2000 secs written: 0x1009 (50.11%)
and for a child, on the same line,
  secs not in parent: 0x1 (100.00%) secs not in ancestors: 0x1 (100.00%)

Example:
  $ vhd-util check -n leaf.vhd -p
  leaf.vhd is valid
  /srv/base.vhd is valid`
}

func (c *checkCmd) Run(e *env) error {
	if c.NoOverlapChecks && (c.Stats || c.Bitmaps) {
		return usagef("-B does not go with -s or -b: they read the blocks it does not check")
	}
	var lines []string
	var stats []imageStats
	var images []map[string]any
	path := c.Name
	for depth := 1; path != ""; depth++ {
		if depth > libvhd.MaxChainDepth {
			return fmt.Errorf("check %s: %w", c.Name, libvhd.ErrChainTooDeep)
		}
		problems, err := c.checkOne(path)
		if err != nil {
			return err
		}
		images = append(images, map[string]any{"name": path, "valid": len(problems) == 0, "problems": problems})
		if len(problems) > 0 {
			return c.invalid(e, path, depth > 1, lines, problems, images)
		}
		lines = append(lines, path+" is valid")
		var parent string
		if c.Stats || c.Parents {
			s, p, err := c.inspect(path)
			if err != nil {
				return err
			}
			stats, parent = append(stats, s), p
		}
		if !c.Parents {
			break
		}
		path = parent
	}
	doc := map[string]any{"name": c.Name, "valid": true, "images": images}
	if c.Stats {
		lines = statsLines(stats)
		doc["stats"] = stats
	}
	return c.print(e.stdout, doc, lines...)
}

// checkOne checks one image of the chain.
func (c *checkCmd) checkOne(path string) ([]libvhd.Problem, error) {
	problems, err := libvhd.Check(path, libvhd.CheckOptions{
		Bitmaps:             c.Bitmaps,
		Data:                c.Bitmaps,
		IgnoreTimestamps:    c.NoTimestamps,
		IgnoreMissingFooter: c.IgnoreFooter,
		NoOverlap:           c.NoOverlapChecks,
		ParentDirs:          c.ParentDirs,
	})
	if !c.IgnoreParentIDs {
		return problems, err
	}
	kept := problems[:0]
	for _, p := range problems {
		if !strings.Contains(p.Msg, libvhd.ErrParentUUID.Error()) {
			kept = append(kept, p)
		}
	}
	return kept, err
}

// inspect gathers an image's statistics (with -s) and its parent's
// canonical path ("" for none, or a raw parent, which check does not
// read).
func (c *checkCmd) inspect(path string) (imageStats, string, error) {
	im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true, NoParent: true, NoLock: true, AllowDisabled: true, ParentDirs: c.ParentDirs})
	if err != nil {
		return imageStats{}, "", err
	}
	defer im.Close()
	var s imageStats
	if c.Stats {
		if s, err = collectStats(im); err != nil {
			return s, "", err
		}
	}
	if im.Type() != libvhd.Differencing || im.ParentRaw() {
		return s, "", nil
	}
	p, err := im.LocateParent()
	if errors.Is(err, libvhd.ErrParentUUID) && c.IgnoreParentIDs && len(im.Locators()) > 0 {
		// The parent of another UUID: the file the first locator names.
		if p, err = im.Locators()[0].Path(), nil; !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(path), p)
		}
	}
	if err == nil {
		p, err = canonPath(p)
	}
	if err != nil {
		return s, "", fmt.Errorf("%s: parent: %w", path, err)
	}
	return s, p, nil
}

// invalid reports an invalid image as blktap: the reason, then its
// metadata; gotap's full list goes to stderr.
func (c *checkCmd) invalid(e *env, path string, parent bool, valid []string, problems []libvhd.Problem, images []map[string]any) error {
	for _, p := range problems {
		fmt.Fprintln(e.stderr, p)
	}
	found := 0 // a line counting problems not listed stands for them
	for _, p := range problems {
		found += max(p.More, 1)
	}
	failure := codedError{syscall.EINVAL, fmt.Errorf("%s: %d problem(s) found", path, found)}
	if c.JSON {
		if err := writeJSON(e.stdout, map[string]any{"name": c.Name, "valid": false, "images": images, "problems": problems}); err != nil {
			return err
		}
		return failure
	}
	lines := append(valid, blktapReason(firstProblem(problems)), path+" appears invalid; dumping metadata")
	for _, l := range lines {
		fmt.Fprintln(e.stdout, l)
	}
	dumpHeaders(e.stdout, path)
	if parent {
		fmt.Fprintf(e.stdout, "error checking parents: %d\n", -int(syscall.EINVAL))
	}
	return failure
}
