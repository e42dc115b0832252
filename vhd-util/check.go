package main

import "gotap.dev/libvhd"

type checkCmd struct {
	image
	output
	parents
	Parents         bool `short:"p" help:"Also check every parent down the chain."`
	Bitmaps         bool `short:"b" help:"Also read every block: zeros under each clear bitmap bit, a full bitmap under each full batmap bit."`
	NoTimestamps    bool `short:"t" name:"ignore-timestamps" help:"Do not flag footer timestamps in the future."`
	IgnoreFooter    bool `short:"i" name:"ignore-missing-footer" help:"Accept a damaged EOF footer when the copy at offset 0 is good."`
	NoOverlapChecks bool `short:"B" name:"no-overlap" help:"Do not report blocks lying over metadata or each other (-b still skips reading them)."`
}

func (checkCmd) Help() string {
	return `Verifies the footer and its copy, the dynamic header, the BAT (no block
overlapping metadata, another block or the footer), blktap's batmap and the
parent locators, and that the parent can be found and is one the parent
policy admits (see --parent-dir): what tapdisk would refuse, check reports.
Bitmaps are read in the image's own bit order (tap 0.1 images keep
blktap2's). Prints "NAME is valid" and exits 0, or prints the problems
found, one per line, as "FILE: STRUCTURE at OFFSET: problem", and exits 2.
Past 10 problems of one kind, one line counts the rest ("FILE: bat: and
N more: …"), so that a hostile image makes a short report; memory and
time follow the file's size, not the size its header declares.

Example:
  $ vhd-util check -n leaf.vhd -p
  leaf.vhd is valid`
}

func (c *checkCmd) Run(e *env) error {
	problems, err := libvhd.Check(c.Name, libvhd.CheckOptions{
		Parents:             c.Parents,
		Bitmaps:             c.Bitmaps,
		Data:                c.Bitmaps,
		IgnoreTimestamps:    c.NoTimestamps,
		IgnoreMissingFooter: c.IgnoreFooter,
		NoOverlap:           c.NoOverlapChecks,
		ParentDirs:          c.ParentDirs,
	})
	if err != nil {
		return err
	}
	lines := []string{c.Name + " is valid"}
	found := 0 // a line counting problems not listed stands for them
	if len(problems) > 0 {
		lines = lines[:0]
		for _, p := range problems {
			lines = append(lines, p.String())
			found += max(p.More, 1)
		}
	}
	doc := map[string]any{"name": c.Name, "valid": len(problems) == 0, "problems": problems}
	if err := c.print(e.stdout, doc, lines...); err != nil {
		return err
	}
	if len(problems) > 0 {
		return invalidf("%s: %d problem(s) found", c.Name, found)
	}
	return nil
}
