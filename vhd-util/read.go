package main

import (
	"fmt"
	"strings"
	"syscall"

	"gotap.dev/libvhd"
)

// readCmd is blktap's `vhd-util read`, with blktap's output: lines where
// blktap prints lines, raw bytes where it prints raw bytes (-B, -m, -a,
// -d, -r, -R). Every offset and bit comes from libvhd (views.go).
type readCmd struct {
	image
	output
	parents
	Headers   bool   `short:"p" help:"Print the footer, dynamic header, parent locators and batmap header (blktap's summaries)."`
	Translate *int64 `short:"t" placeholder:"SEC" help:"Print where -c virtual sectors from SEC lie in the file."`
	Entry     *int64 `short:"b" placeholder:"BLK" help:"Print -c BAT entries from block BLK: \"block: BLK: offset: BYTES\" or \"…: offset: not allocated\"."`
	BAT       bool   `short:"B" name:"bat" help:"Write the BAT as raw bytes: one bit per block of the disk, set if allocated, most significant bit first."`
	Bitmap    *int64 `short:"m" placeholder:"BLK" help:"Write the sector bitmaps of -c blocks from BLK as raw bytes, as stored (\"block BLK not allocated\" for one that is not)."`
	Info      *int64 `short:"i" placeholder:"SEC" help:"Print -c sectors' bitmap bits from virtual sector SEC: \"block BLK: sec: N: 0|1\", N the sector within its block."`
	Extents   *int64 `short:"e" placeholder:"SEC" help:"Print the runs of the -c sectors from SEC that this image holds: \"START COUNT\" per line."`
	Batmap    bool   `short:"a" help:"Write the batmap as raw bytes."`
	BatmapBit *int64 `short:"j" placeholder:"BLK" help:"Print -c batmap bits from block BLK on stderr: \"batmap for block BLK: 0|1\"."`
	Data      *int64 `short:"d" placeholder:"BLK" help:"Write the data of -c blocks from BLK as stored in the file (\"block BLK not allocated\" for one that is not)."`
	Sectors   *int64 `short:"r" placeholder:"SEC" help:"Write -c sectors of the virtual disk from sector SEC (through the chain)."`
	Bytes     *int64 `short:"R" placeholder:"BYTE" help:"Write -c bytes of the virtual disk from byte BYTE (through the chain)."`
	Count     int64  `short:"c" default:"1" placeholder:"N" help:"How many blocks (-b, -m, -j, -d), sectors (-i, -e, -t, -r) or bytes (-R)."`
	Hex       bool   `short:"x" help:"Print the numbers of -p, -b, -i, -e and -t in hex (0x…)."`
}

func (readCmd) Help() string {
	return `Dumps what an image holds, in blktap's formats. Outputs come in the
order of this list, whatever the order of the flags. Sectors are 512
bytes; blocks are the image's block size (2 MiB by default). With
--json, one object with a key per flag given (bytes in base64).

Example:
  vhd-util read -n disk.vhd -p
  vhd-util read -n disk.vhd -b 0 -c 4
  vhd-util read -n disk.vhd -B | xxd
  vhd-util read -n disk.vhd -r 2048 -c 8 | xxd`
}

func (c *readCmd) Run(e *env) error {
	if c.Count <= 0 {
		return usagef("-c %d: want a count > 0", c.Count)
	}
	chain := c.Sectors != nil || c.Bytes != nil
	im, err := libvhd.Open(c.Name, libvhd.OpenOptions{ReadOnly: true, NoParent: !chain, NoLock: true, AllowDisabled: true, ParentDirs: c.ParentDirs})
	if err != nil {
		if !c.JSON {
			c.unopened(e.stdout, err)
		}
		return err
	}
	defer im.Close()
	r := newReport(e.stdout, c.JSON)
	steps := []struct {
		on  bool
		run func(*report, *libvhd.Image) error
	}{
		{c.Headers, c.headers},
		{c.Translate != nil, c.translate},
		{c.Entry != nil, c.entries},
		{c.BAT, c.bat},
		{c.Bitmap != nil, c.bitmap},
		{c.Info != nil, c.info},
		{c.Extents != nil, c.extents},
		{c.Batmap, c.batmap},
		{c.BatmapBit != nil, func(r *report, im *libvhd.Image) error { return c.batmapBits(r, im, e) }},
		{c.Data != nil, c.data},
		{c.Sectors != nil, func(r *report, im *libvhd.Image) error {
			return c.read(r, im, *c.Sectors*libvhd.SectorSize, c.Count*libvhd.SectorSize)
		}},
		{c.Bytes != nil, func(r *report, im *libvhd.Image) error { return c.read(r, im, *c.Bytes, c.Count) }},
	}
	ran := false
	for _, s := range steps {
		if s.on {
			ran = true
			if err := s.run(r, im); err != nil {
				return err
			}
		}
	}
	if !ran {
		return usagef("nothing to read: give one of -p -b -B -m -i -e -a -j -t -d -r -R")
	}
	return r.done()
}

// num prints n as blktap does: decimal, or with -x C's %#llx (0 stays 0).
func (c *readCmd) num(n int64) string { return c.unum(uint64(n)) }

// unum is num of a field C prints unsigned (all ones is not -1). blktap
// formats into a 15-byte buffer: past 14 characters a number is cut
// (all ones prints 18446744073709, or 0xffffffffffff).
func (c *readCmd) unum(n uint64) string {
	s := fmt.Sprint(n)
	if c.Hex && n != 0 {
		s = fmt.Sprintf("%#x", n)
	}
	return s[:min(len(s), 14)]
}

// rangef refuses blocks or sectors past the image (ERANGE, as blktap).
func rangef(format string, args ...any) error {
	return codedError{syscall.ERANGE, fmt.Errorf(format, args...)}
}

// blocks is the range of -c blocks from first, refused past the BAT.
func (c *readCmd) blocks(im *libvhd.Image, first int64) (from, to int, err error) {
	if im.Type() == libvhd.Fixed {
		return 0, 0, usagef("%s: a fixed image has no blocks", c.Name)
	}
	if first < 0 || first+c.Count > int64(im.BlockCount()) {
		return 0, 0, rangef("blocks %d to %d: the BAT has %d entries", first, first+c.Count-1, im.BlockCount())
	}
	return int(first), int(first + c.Count), nil
}

type batEntry struct {
	Block  int    `json:"block"`
	Offset *int64 `json:"offset"` // bytes; null: not allocated
}

func (c *readCmd) entries(r *report, im *libvhd.Image) error {
	from, to, err := c.blocks(im, *c.Entry)
	if err != nil {
		return err
	}
	var list []batEntry
	var b strings.Builder
	for blk := from; blk < to; blk++ {
		off, ok, err := im.BlockOffset(blk)
		if err != nil {
			return err
		}
		if !ok {
			list = append(list, batEntry{Block: blk})
			fmt.Fprintf(&b, "block: %s: offset: not allocated\n", c.num(int64(blk)))
			continue
		}
		list = append(list, batEntry{Block: blk, Offset: &off})
		fmt.Fprintf(&b, "block: %s: offset: %s\n", c.num(int64(blk)), c.num(off))
	}
	r.add("bat", list, b.String())
	return nil
}

func (c *readCmd) bat(r *report, im *libvhd.Image) error {
	if im.Type() == libvhd.Fixed {
		return usagef("%s: a fixed image has no blocks", c.Name)
	}
	// One bit per block of the disk, as blktap: not per BAT entry, of
	// which an image made with -S has more (SM compares these bytes
	// between images of one size made with different -S).
	blocks := int((im.Size() + im.BlockSize() - 1) / im.BlockSize())
	m := im.AppendAllocationBits(nil)[:(blocks+7)/8]
	if tail := blocks % 8; tail != 0 {
		m[len(m)-1] &= byte(0xFF << (8 - tail))
	}
	r.add("bat_bits", m, string(m))
	return nil
}

func (c *readCmd) bitmap(r *report, im *libvhd.Image) error {
	return c.blockBytes(r, im, "bitmaps", *c.Bitmap, im.StoredBitmap)
}

// blockBytes is one block's raw bytes (null: not allocated).
type blockBytes struct {
	Block int    `json:"block"`
	Bytes []byte `json:"bytes"`
}

// blockBytes writes what get returns of -c blocks from first, raw, or
// blktap's "block N not allocated" line for a block without bytes.
func (c *readCmd) blockBytes(r *report, im *libvhd.Image, key string, first int64, get func(int) ([]byte, error)) error {
	from, to, err := c.blocks(im, first)
	if err != nil {
		return err
	}
	var list []blockBytes
	var b strings.Builder
	for blk := from; blk < to; blk++ {
		p, err := get(blk)
		if err != nil {
			return err
		}
		list = append(list, blockBytes{blk, p})
		if p == nil {
			fmt.Fprintf(&b, "block %s not allocated\n", c.num(int64(blk)))
		}
		b.Write(p)
	}
	r.add(key, list, b.String())
	return nil
}

// sectors is the range of -c sectors from first, refused past the disk.
func (c *readCmd) sectors(im *libvhd.Image, first int64) (from, to int64, err error) {
	if n := im.Size() / libvhd.SectorSize; first < 0 || first+c.Count > n {
		return 0, 0, rangef("sectors %d to %d: the disk has %d sectors", first, first+c.Count-1, n)
	}
	return first, first + c.Count, nil
}

type sectorBit struct {
	Sector int64 `json:"sector"`
	Block  int   `json:"block"`
	Set    bool  `json:"set"`
}

func (c *readCmd) info(r *report, im *libvhd.Image) error {
	from, to, err := c.sectors(im, *c.Info)
	if err != nil {
		return err
	}
	var list []sectorBit
	var b strings.Builder
	for sec := from; sec < to; sec++ {
		loc, err := im.Locate(sec)
		if err != nil {
			return err
		}
		list = append(list, sectorBit{sec, loc.Block, loc.Written})
		// blktap numbers the sector within its block here.
		fmt.Fprintf(&b, "block %s: sec: %s: %d\n", c.num(int64(loc.Block)), c.num(loc.InBlock), map[bool]int{true: 1}[loc.Written])
	}
	r.add("sector_bits", list, b.String())
	return nil
}

type extent struct {
	Start int64 `json:"start"`
	Count int64 `json:"count"`
}

// extents lists the runs of sectors this image holds (layer 0 of a chain
// opened without its parent).
func (c *readCmd) extents(r *report, im *libvhd.Image) error {
	from, to, err := c.sectors(im, *c.Extents)
	if err != nil {
		return err
	}
	ext, err := im.AppendExtents(nil, from*libvhd.SectorSize, (to-from)*libvhd.SectorSize)
	if err != nil {
		return err
	}
	list := []extent{}
	var b strings.Builder
	for _, x := range ext {
		if x.Layer != 0 {
			continue
		}
		e := extent{x.Offset / libvhd.SectorSize, x.Length / libvhd.SectorSize}
		list = append(list, e)
		fmt.Fprintf(&b, "%s %s\n", c.num(e.Start), c.num(e.Count))
	}
	r.add("extents", list, b.String())
	return nil
}

func (c *readCmd) batmap(r *report, im *libvhd.Image) error {
	_, m, ok := im.Batmap()
	if !ok {
		return fmt.Errorf("%s: %w", c.Name, libvhd.ErrNoBatmap)
	}
	r.add("batmap", m, string(m))
	return nil
}

type batmapBit struct {
	Block int  `json:"block"`
	Full  bool `json:"full"`
}

// batmapBits prints on stderr, as blktap does (its scripts read stdout
// for the other options of the same call).
func (c *readCmd) batmapBits(r *report, im *libvhd.Image, e *env) error {
	from, to, err := c.blocks(im, *c.BatmapBit)
	if err != nil {
		return err
	}
	var list []batmapBit
	var b strings.Builder
	for blk := from; blk < to; blk++ {
		full, err := im.BatmapFull(blk)
		if err != nil {
			return fmt.Errorf("%s: %w", c.Name, err)
		}
		list = append(list, batmapBit{blk, full})
		fmt.Fprintf(&b, "batmap for block %d: %d\n", blk, map[bool]int{true: 1}[full])
	}
	if c.JSON {
		r.add("batmap_bits", list, "")
		return nil
	}
	_, err = fmt.Fprint(e.stderr, b.String())
	return err
}

type translation struct {
	Sector     int64  `json:"sector"`
	Block      int    `json:"block"`
	InBlock    int64  `json:"sector_offset"`
	FileOffset *int64 `json:"file_offset"` // null: not allocated
}

func (c *readCmd) translate(r *report, im *libvhd.Image) error {
	from, to, err := c.sectors(im, *c.Translate)
	if err != nil {
		return err
	}
	var list []translation
	var b strings.Builder
	for sec := from; sec < to; sec++ {
		loc, err := im.Locate(sec)
		if err != nil {
			return err
		}
		t := translation{Sector: sec, Block: loc.Block, InBlock: loc.InBlock}
		off := "not allocated"
		if loc.FileOffset >= 0 {
			t.FileOffset, off = &loc.FileOffset, c.num(loc.FileOffset)
		}
		list = append(list, t)
		fmt.Fprintf(&b, "logical sector %s: block number: %s, sector offset: %s, file offset: %s\n",
			c.num(sec), c.num(int64(loc.Block)), c.num(loc.InBlock), off)
	}
	r.add("translate", list, b.String())
	return nil
}

func (c *readCmd) data(r *report, im *libvhd.Image) error {
	return c.blockBytes(r, im, "blocks", *c.Data, im.BlockData)
}

// read reads n bytes of the virtual disk at off.
func (c *readCmd) read(r *report, im *libvhd.Image, off, n int64) error {
	if off < 0 || off+n > im.Size() {
		return rangef("read %d bytes at %d: the disk has %d bytes", n, off, im.Size())
	}
	buf := make([]byte, n)
	if _, err := im.ReadAt(buf, off); err != nil {
		return err
	}
	r.add("data", buf, string(buf))
	return nil
}
