package main

import (
	"errors"
	"fmt"

	clikit "gotap.dev/libtap/cli"
	"gotap.dev/libvhd"
)

type coalesceCmd struct {
	output
	parents
	Name     string `short:"n" required:"" placeholder:"CHILD" help:"The differencing image whose data is written down."`
	Sparse   bool   `short:"s" help:"Write sparsely: data that is all zeros allocates nothing in a dynamic target (it reads zeros already)."`
	Progress bool   `short:"p" help:"Print blktap's progress on stdout: \\r and a percentage per block, then \\r100.00% and a newline."`
	Ancestor string `short:"a" placeholder:"ANCESTOR" help:"Merge CHILD and every image between it and ANCESTOR into ANCESTOR in one pass, the topmost image's sector winning (gotap's extension)."`
}

func (coalesceCmd) Help() string {
	return `Writes every sector CHILD holds into its parent (a VHD, or a raw file or
device), so that the parent then reads as CHILD did; with -a, the sectors
of every image from CHILD down to ANCESTOR go into ANCESTOR. CHILD and the
images between are only read; the chain through CHILD reads the same at
every instant, so an interrupted coalesce (a crash, a full file system)
leaves a valid parent and running it again finishes the job. Dropping
CHILD from the chain (vhd-util modify -p on its children) is left to the
caller. The target is locked exclusively: a target another process reads
or writes is refused.

Prints "Coalesced N sectors" without a newline, as blktap, N counting the
sectors the merged images hold. -s first prints "opening for sparse
writes" (a VHD parent), -p the progress, both as blktap. Without -p, a
progress bar goes to stderr when it is a terminal. On failure, blktap's
"error coalescing: -ERRNO" (after "coalescing of non-differencing disks
is not supported" for an image that is none). --json prints the target,
the merged images and the count instead, and no progress on stdout.

Example:
  $ vhd-util coalesce -n leaf.vhd
  Coalesced 20480 sectors`
}

func (c *coalesceCmd) Run(e *env) error {
	plain := !c.JSON
	opts := libvhd.CoalesceOptions{Ancestor: c.Ancestor, Sparse: c.Sparse, ParentDirs: c.ParentDirs}
	bar := clikit.NewProgress(e.stderr, "coalesce")
	started := false
	opts.Progress = func(done, total int64) {
		switch {
		case c.Progress && plain:
			// blktap prints each block's percentage before copying it.
			if !started {
				fmt.Fprintf(e.stdout, "\r%6.2f%%", 0.0)
				started = true
			}
			if done < total {
				// As blktap: a float quotient, times 100 in double.
				fmt.Fprintf(e.stdout, "\r%6.2f%%", float64(float32(done)/float32(total))*100)
			}
		case !c.Progress:
			bar.Update(done, total)
		}
	}
	if c.Sparse && plain && c.Ancestor == "" && c.vhdParent() {
		fmt.Fprintln(e.stdout, "opening for sparse writes")
	}
	res, err := libvhd.Coalesce(c.Name, opts)
	bar.Done()
	if err != nil {
		if plain && errors.Is(err, libvhd.ErrNotDifferencing) {
			fmt.Fprintln(e.stdout, "coalescing of non-differencing disks is not supported")
		}
		if plain {
			fmt.Fprintf(e.stdout, "error coalescing: %d\n", -int(errnoOf(err)))
		}
		return err
	}
	if !plain {
		return writeJSON(e.stdout, map[string]any{"name": c.Name, "target": res.Target, "merged": res.Merged, "sectors": res.Sectors})
	}
	if c.Progress {
		fmt.Fprint(e.stdout, "\r100.00%\n")
	}
	_, err = fmt.Fprintf(e.stdout, "Coalesced %d sectors", res.Sectors)
	return err
}

// vhdParent reports whether CHILD is a differencing image over a VHD, as
// blktap checks before saying it writes sparsely.
func (c *coalesceCmd) vhdParent() bool {
	im, err := libvhd.Open(c.Name, libvhd.OpenOptions{ReadOnly: true, NoParent: true, NoLock: true})
	if err != nil {
		return false
	}
	defer im.Close()
	return im.Type() == libvhd.Differencing && !im.ParentRaw()
}
