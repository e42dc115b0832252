package main

import (
	"cmp"
	"fmt"

	"gotap.dev/libvhd"
)

type queryCmd struct {
	image
	output
	parents
	Virtual    bool `short:"v" help:"Virtual size in MB."`
	Physical   bool `short:"s" help:"Where the image ends: the end of its data plus the 512-byte footer, in bytes (not the file's or device's size)."`
	Parent     bool `short:"p" help:"The parent's canonical absolute path, or \"NAME has no parent\" (\"query failed\" if it cannot be found)."`
	Fields     bool `short:"f" help:"The hidden flag, as \"hidden: N\"."`
	Marker     bool `short:"m" help:"The batmap marker, as \"marker: N\" (0 without a batmap)."`
	Depth      bool `short:"d" help:"Images in the chain, as \"chain depth: N\" (1: no parent)."`
	Allocated  bool `short:"a" help:"Number of allocated blocks."`
	MaxSize    bool `short:"S" name:"max-size" help:"Largest size in MB a fast resize can reach (BAT entries × block size)."`
	Unresolved bool `short:"u" help:"With -p: print the first parent locator's name as stored (./base.vhd), without looking for the file."`
}

func (queryCmd) Help() string {
	return `Prints one value per line, always in blktap's order v, s, p, f, m, d,
a, S, whatever the order of the flags (scripts read the lines by
position). A value that cannot be had prints blktap's failure line in its
place ("query failed" for -p, "error checking chain depth: -ERRNO" for
-d...) and the exit status is that failure's errno; an image that cannot
be opened prints "error opening NAME: -ERRNO", on stdout as blktap. With
--json, one object with a key per flag given.

Example:
  $ vhd-util query -n leaf.vhd -d -v -s -p
  10240
  5120
  /srv/base.vhd
  chain depth: 2`
}

// queryFact is one flag's line.
type queryFact struct {
	on   bool
	key  string // JSON key
	fail string // blktap's line when the value cannot be had, before the errno
	get  func(*libvhd.Image) (any, string, error)
}

// facts lists the flags in blktap's fixed order.
func (c *queryCmd) facts() []queryFact {
	return []queryFact{
		{c.Virtual, "virtual_size_mb", "", c.virtual},
		{c.Physical, "physical_size", "failed to get physical size: %d", c.physical},
		{c.Parent, "parent", "query failed", c.parent},
		{c.Fields, "hidden", "error checking 'hidden' field: %d", c.hidden},
		{c.Marker, "marker", "error checking 'marker' field: %d", c.marker},
		{c.Depth, "chain_depth", "error checking chain depth: %d", c.depth},
		{c.Allocated, "allocated_blocks", "error checking allocated blocks: %d", c.allocated},
		{c.MaxSize, "max_size_mb", "", c.maxSize},
	}
}

func (c *queryCmd) Run(e *env) error {
	var facts []queryFact
	for _, f := range c.facts() {
		if f.on {
			facts = append(facts, f)
		}
	}
	if len(facts) == 0 {
		return usagef("nothing to query: give one or more of -v -s -p -f -m -d -a -S")
	}
	im, err := libvhd.Open(c.Name, libvhd.OpenOptions{ReadOnly: true, NoParent: true, NoLock: true, AllowDisabled: true, ParentDirs: c.ParentDirs})
	if err != nil {
		if !c.JSON {
			fmt.Fprintf(e.stdout, "error opening %s: %d\n", c.Name, -int(errnoOf(err)))
		}
		return err
	}
	defer im.Close()
	r := newReport(e.stdout, c.JSON)
	var failed error // the first failure sets the exit status, as blktap's
	for _, f := range facts {
		v, text, err := f.get(im)
		if err != nil {
			failed = cmp.Or(failed, err)
			v, text = nil, f.fail
			if f.key != "parent" {
				text = fmt.Sprintf(f.fail, -int(errnoOf(err)))
			}
		}
		r.add(f.key, v, text+"\n")
	}
	return cmp.Or(r.done(), failed)
}

func (c *queryCmd) virtual(im *libvhd.Image) (any, string, error) {
	return im.Size() >> 20, mb(im.Size()), nil
}

func (c *queryCmd) physical(im *libvhd.Image) (any, string, error) {
	end := im.PhysicalEnd()
	return end, fmt.Sprint(end), nil
}

func (c *queryCmd) parent(im *libvhd.Image) (any, string, error) {
	if im.Type() != libvhd.Differencing {
		return nil, c.Name + " has no parent", nil
	}
	if c.Unresolved {
		locs := im.Locators()
		if len(locs) == 0 {
			return nil, "", invalidf("%s: no readable parent locator", c.Name)
		}
		return locs[0].Path(), locs[0].Path(), nil
	}
	p, err := im.LocateParent()
	if err == nil {
		p, err = canonPath(p)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: parent: %w", c.Name, err)
	}
	return p, p, nil
}

func (c *queryCmd) hidden(im *libvhd.Image) (any, string, error) {
	hidden, err := im.Hidden()
	if err != nil {
		return nil, "", err
	}
	return hidden, fmt.Sprintf("hidden: %d", hidden), nil
}

func (c *queryCmd) marker(im *libvhd.Image) (any, string, error) {
	bh, _, _ := im.Batmap()
	return bh.Marker, fmt.Sprintf("marker: %d", bh.Marker), nil
}

// depth opens the chain: the image alone was opened without it.
func (c *queryCmd) depth(*libvhd.Image) (any, string, error) {
	chain, err := libvhd.Open(c.Name, libvhd.OpenOptions{ReadOnly: true, NoLock: true, AllowDisabled: true, ParentDirs: c.ParentDirs})
	if err != nil {
		return nil, "", err
	}
	defer chain.Close()
	return chain.Depth(), fmt.Sprintf("chain depth: %d", chain.Depth()), nil
}

func (c *queryCmd) allocated(im *libvhd.Image) (any, string, error) {
	if im.Type() == libvhd.Fixed {
		return nil, "", usagef("%s: a fixed image has no BAT (-a)", c.Name)
	}
	return im.AllocatedBlocks(), fmt.Sprint(im.AllocatedBlocks()), nil
}

func (c *queryCmd) maxSize(im *libvhd.Image) (any, string, error) {
	max := im.Size()
	if h, sparse := im.Header(); sparse {
		max = int64(h.MaxTableEntries) * int64(h.BlockSize)
	}
	return max >> 20, mb(max), nil
}
