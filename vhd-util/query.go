package main

import (
	"fmt"
	"os"
	"strings"

	"gotap.dev/libvhd"
)

type queryCmd struct {
	image
	output
	parents
	Virtual    bool `short:"v" help:"Virtual size in MB."`
	Physical   bool `short:"s" help:"Physical size of the file in bytes."`
	Parent     bool `short:"p" help:"The parent's path, or \"NAME has no parent\"."`
	Fields     bool `short:"f" help:"The hidden flag, as \"hidden: N\"."`
	Marker     bool `short:"m" help:"The batmap marker, as \"marker: N\" (0 without a batmap)."`
	Depth      bool `short:"d" help:"Images in the chain, as \"chain depth: N\" (1: no parent)."`
	Allocated  bool `short:"a" help:"Number of allocated blocks."`
	MaxSize    bool `short:"S" name:"max-size" help:"Largest size in MB a fast resize can reach (BAT entries × block size)."`
	Unresolved bool `short:"u" help:"With -p: print the parent name stored in the header, without looking for the file."`
}

func (queryCmd) Help() string {
	return `Prints one value per line, in the order the flags are given. With
--json, one object with a key per flag given.

Example:
  $ vhd-util query -n leaf.vhd -v -p -d
  10240
  /srv/base.vhd
  chain depth: 2`
}

// queryFlags maps each value flag's short and long form to its JSON key,
// in help order.
var queryFlags = []struct {
	short byte
	long  string
	key   string
}{
	{'v', "virtual", "virtual_size_mb"},
	{'s', "physical", "physical_size"},
	{'p', "parent", "parent"},
	{'f', "fields", "hidden"},
	{'m', "marker", "marker"},
	{'d', "depth", "chain_depth"},
	{'a', "allocated", "allocated_blocks"},
	{'S', "max-size", "max_size_mb"},
}

func (c *queryCmd) Run(e *env) error {
	keys := flagOrder(e.args)
	if len(keys) == 0 {
		return usagef("nothing to query: give one or more of -v -s -p -f -m -d -a -S")
	}
	chain := c.Depth || (c.Parent && !c.Unresolved)
	im, err := libvhd.Open(c.Name, libvhd.OpenOptions{ReadOnly: true, NoParent: !chain, NoLock: true, AllowDisabled: true, ParentDirs: c.ParentDirs})
	if err != nil {
		return err
	}
	defer im.Close()
	r := newReport(e.stdout, c.JSON)
	for _, k := range keys {
		v, text, err := c.value(im, k)
		if err != nil {
			return err
		}
		r.add(k, v, text+"\n")
	}
	return r.done()
}

// value is one queried fact, as JSON value and as blktap's text.
func (c *queryCmd) value(im *libvhd.Image, key string) (any, string, error) {
	h, sparse := im.Header()
	switch key {
	case "virtual_size_mb":
		return im.Size() >> 20, mb(im.Size()), nil
	case "physical_size":
		st, err := os.Stat(c.Name)
		if err != nil {
			return nil, "", err
		}
		return st.Size(), fmt.Sprint(st.Size()), nil
	case "parent":
		switch {
		case im.Type() != libvhd.Differencing:
			return nil, c.Name + " has no parent", nil
		case c.Unresolved:
			return h.ParentNameString(), h.ParentNameString(), nil
		}
		return im.ParentPath(), im.ParentPath(), nil
	case "hidden":
		hidden, err := im.Hidden()
		if err != nil {
			return nil, "", err
		}
		return hidden, fmt.Sprintf("hidden: %d", hidden), nil
	case "marker":
		bh, _, _ := im.Batmap()
		return bh.Marker, fmt.Sprintf("marker: %d", bh.Marker), nil
	case "chain_depth":
		return im.Depth(), fmt.Sprintf("chain depth: %d", im.Depth()), nil
	case "allocated_blocks":
		if !sparse {
			return nil, "", usagef("%s: a fixed image has no BAT (-a)", c.Name)
		}
		return im.AllocatedBlocks(), fmt.Sprint(im.AllocatedBlocks()), nil
	}
	max := im.Size()
	if sparse {
		max = int64(h.MaxTableEntries) * int64(h.BlockSize)
	}
	return max >> 20, mb(max), nil
}

// flagOrder lists the JSON keys of the value flags in args, in the order
// given (kong does not keep it), each once.
func flagOrder(args []string) []string {
	var keys []string
	seen := map[string]bool{}
	note := func(match func(short byte, long string) bool) {
		for _, f := range queryFlags {
			if match(f.short, f.long) && !seen[f.key] {
				seen[f.key] = true
				keys = append(keys, f.key)
			}
		}
	}
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			return keys
		case a == "-n" || a == "--name":
			i++ // its value
		case strings.HasPrefix(a, "--"):
			note(func(_ byte, long string) bool { return a == "--"+long })
		case strings.HasPrefix(a, "-"):
			for j := 1; j < len(a); j++ {
				if a[j] == 'n' { // -vnNAME: the rest is the value; -vn NAME: the next arg
					if j == len(a)-1 {
						i++
					}
					break
				}
				note(func(short byte, _ string) bool { return a[j] == short })
			}
		}
	}
	return keys
}
