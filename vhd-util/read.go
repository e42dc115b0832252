package main

import (
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/bits"
	"os"
	"strings"

	"gotap.dev/libvhd"
)

type readCmd struct {
	image
	output
	Headers   bool   `short:"p" help:"Print footer, dynamic header, parent locators and batmap header as \"Label : value\" lines."`
	Entry     *int64 `short:"b" placeholder:"BLK" help:"Print block BLK's BAT entry: \"block BLK: sector S\" or \"block BLK: not allocated\"."`
	BAT       bool   `short:"B" name:"bat" help:"Print every BAT entry, one line per block as -b does."`
	Bitmap    *int64 `short:"m" placeholder:"BLK" help:"Print block BLK's sector bitmap: a count line, then 64 hex digits (256 sectors) per line."`
	Info      *int64 `short:"i" placeholder:"SEC" help:"Print which block and bitmap bit hold virtual sector SEC, and whether it is in this file."`
	Batmap    bool   `short:"a" help:"Print the batmap: a count line, then 64 hex digits (256 blocks) per line."`
	BatmapBit *int64 `short:"j" placeholder:"BLK" help:"Print block BLK's batmap bit: \"block BLK: batmap bit 0|1\"."`
	Translate *int64 `short:"t" placeholder:"SEC" help:"Translate virtual sector SEC to the sector of the file that holds it."`
	Data      *int64 `short:"d" placeholder:"BLK" help:"Print block BLK's data as stored in the file (raw, or hex with -x)."`
	Sectors   *int64 `short:"r" placeholder:"SEC" help:"Read -c sectors of the virtual disk from sector SEC (through the chain)."`
	Bytes     *int64 `short:"R" placeholder:"BYTE" help:"Read -c bytes of the virtual disk from byte BYTE (through the chain)."`
	Count     int64  `short:"c" default:"1" placeholder:"N" help:"How many sectors (-r) or bytes (-R) to read."`
	Hex       bool   `short:"x" help:"Print data as a hex dump instead of raw bytes."`
}

func (readCmd) Help() string {
	return `Dumps what an image holds. Outputs come in the order of this list,
whatever the order of the flags. Sectors are 512 bytes; blocks are the
image's block size (2 MiB by default). With --json, one object with a key
per flag given (data in base64).

Example:
  vhd-util read -n disk.vhd -p
  vhd-util read -n disk.vhd -r 2048 -c 8 -x`
}

func (c *readCmd) Run(e *env) error {
	chain := c.Sectors != nil || c.Bytes != nil
	im, err := libvhd.Open(c.Name, libvhd.OpenOptions{ReadOnly: true, NoParent: !chain, NoLock: true})
	if err != nil {
		return err
	}
	defer im.Close()
	r := newReport(e.stdout, c.JSON)
	steps := []struct {
		on  bool
		run func(*report, *libvhd.Image) error
	}{
		{c.Headers, c.headers},
		{c.Entry != nil, func(r *report, im *libvhd.Image) error { return c.entries(r, im, *c.Entry, *c.Entry+1) }},
		{c.BAT, func(r *report, im *libvhd.Image) error { return c.entries(r, im, 0, int64(len(im.BAT()))) }},
		{c.Bitmap != nil, c.bitmap},
		{c.Info != nil, c.info},
		{c.Batmap, c.batmap},
		{c.BatmapBit != nil, c.batmapBit},
		{c.Translate != nil, c.translate},
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
		return usagef("nothing to read: give one of -p -b -B -m -i -a -j -t -d -r -R")
	}
	return r.done()
}

// block checks a block number against the BAT and returns its entry.
func (c *readCmd) block(im *libvhd.Image, blk int64) (uint32, error) {
	bat := im.BAT()
	if im.Type() == libvhd.Fixed {
		return 0, usagef("%s: a fixed image has no blocks", c.Name)
	}
	if blk < 0 || blk >= int64(len(bat)) {
		return 0, usagef("block %d: the BAT has %d entries", blk, len(bat))
	}
	return bat[blk], nil
}

const unallocated = 0xFFFFFFFF

type batEntry struct {
	Block  int64   `json:"block"`
	Sector *uint32 `json:"sector"` // null: not allocated
}

func (c *readCmd) entries(r *report, im *libvhd.Image, from, to int64) error {
	var list []batEntry
	var b strings.Builder
	for blk := from; blk < to; blk++ {
		e, err := c.block(im, blk)
		if err != nil {
			return err
		}
		if e == unallocated {
			list = append(list, batEntry{Block: blk})
			fmt.Fprintf(&b, "block %d: not allocated\n", blk)
			continue
		}
		list = append(list, batEntry{Block: blk, Sector: &e})
		fmt.Fprintf(&b, "block %d: sector %d\n", blk, e)
	}
	r.add("bat", list, b.String())
	return nil
}

func (c *readCmd) bitmap(r *report, im *libvhd.Image) error {
	blk := *c.Bitmap
	if _, err := c.block(im, blk); err != nil {
		return err
	}
	bm, err := im.Bitmap(int(blk))
	if err != nil {
		return err
	}
	if bm == nil {
		r.add("bitmap", map[string]any{"block": blk, "allocated": false}, fmt.Sprintf("block %d: not allocated\n", blk))
		return nil
	}
	bits := bm[:im.BlockSize()/libvhd.SectorSize/8]
	r.add("bitmap", map[string]any{"block": blk, "allocated": true, "set": countBits(bits), "hex": hex.EncodeToString(bits)},
		fmt.Sprintf("block %d: %d of %d sectors set\n%s", blk, countBits(bits), 8*len(bits), hexLines(bits)))
	return nil
}

func (c *readCmd) info(r *report, im *libvhd.Image) error {
	sec := *c.Info
	blk, bit, e, err := c.locate(im, sec)
	if err != nil {
		return err
	}
	doc := map[string]any{"sector": sec, "block": blk, "bit": bit, "allocated": false}
	text := fmt.Sprintf("sector %d: block %d, bit %d: block not allocated\n", sec, blk, bit)
	if e != unallocated {
		bm, err := im.Bitmap(int(blk))
		if err != nil {
			return err
		}
		set := bm[bit/8]&(0x80>>(bit%8)) != 0
		doc["allocated"] = set
		text = fmt.Sprintf("sector %d: block %d, bit %d: %s\n", sec, blk, bit, map[bool]string{true: "set", false: "clear"}[set])
	}
	r.add("sector_info", doc, text)
	return nil
}

// locate finds the block, bitmap bit and BAT entry of a virtual sector.
func (c *readCmd) locate(im *libvhd.Image, sec int64) (blk, bit int64, e uint32, err error) {
	if sec < 0 || sec >= im.Size()/libvhd.SectorSize {
		return 0, 0, 0, usagef("sector %d: the disk has %d sectors", sec, im.Size()/libvhd.SectorSize)
	}
	if im.Type() == libvhd.Fixed {
		return 0, sec, 0, nil
	}
	spb := im.BlockSize() / libvhd.SectorSize
	blk, bit = sec/spb, sec%spb
	e, err = c.block(im, blk)
	return blk, bit, e, err
}

func (c *readCmd) batmap(r *report, im *libvhd.Image) error {
	h, bits, ok := im.Batmap()
	if !ok {
		return fmt.Errorf("%s: %w", c.Name, libvhd.ErrNoBatmap)
	}
	n := len(im.BAT())
	bits = bits[:(n+7)/8]
	r.add("batmap", map[string]any{"blocks": n, "full": countBits(bits), "marker": h.Marker, "hex": hex.EncodeToString(bits)},
		fmt.Sprintf("batmap: %d of %d blocks full\n%s", countBits(bits), n, hexLines(bits)))
	return nil
}

func (c *readCmd) batmapBit(r *report, im *libvhd.Image) error {
	blk := *c.BatmapBit
	if _, err := c.block(im, blk); err != nil {
		return err
	}
	_, bits, ok := im.Batmap()
	if !ok {
		return fmt.Errorf("%s: %w", c.Name, libvhd.ErrNoBatmap)
	}
	bit := int(bits[blk/8]>>(7-blk%8)) & 1
	r.add("batmap_bit", map[string]any{"block": blk, "bit": bit}, fmt.Sprintf("block %d: batmap bit %d\n", blk, bit))
	return nil
}

func (c *readCmd) translate(r *report, im *libvhd.Image) error {
	sec := *c.Translate
	blk, bit, e, err := c.locate(im, sec)
	if err != nil {
		return err
	}
	if im.Type() == libvhd.Fixed {
		r.add("translate", map[string]any{"sector": sec, "file_sector": sec}, fmt.Sprintf("sector %d: file sector %d\n", sec, sec))
		return nil
	}
	if e == unallocated {
		r.add("translate", map[string]any{"sector": sec, "block": blk, "file_sector": nil}, fmt.Sprintf("sector %d: block %d not allocated\n", sec, blk))
		return nil
	}
	bm, err := im.Bitmap(int(blk))
	if err != nil {
		return err
	}
	fs := int64(e) + int64(len(bm))/libvhd.SectorSize + bit
	r.add("translate", map[string]any{"sector": sec, "block": blk, "file_sector": fs}, fmt.Sprintf("sector %d: block %d, file sector %d\n", sec, blk, fs))
	return nil
}

// data reads block's data area straight from the file: the data offset is
// the BAT entry plus the bitmap's length.
func (c *readCmd) data(r *report, im *libvhd.Image) error {
	blk := *c.Data
	e, err := c.block(im, blk)
	if err != nil {
		return err
	}
	if e == unallocated {
		return usagef("block %d: not allocated", blk)
	}
	bm, err := im.Bitmap(int(blk))
	if err != nil {
		return err
	}
	f, err := os.Open(c.Name)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, im.BlockSize())
	if _, err := f.ReadAt(buf, int64(e)*libvhd.SectorSize+int64(len(bm))); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read block %d: %w", blk, err)
	}
	r.add("data", buf, c.dump(buf))
	return nil
}

// read reads n bytes of the virtual disk at off.
func (c *readCmd) read(r *report, im *libvhd.Image, off, n int64) error {
	if n <= 0 || off < 0 || off+n > im.Size() {
		return usagef("read %d bytes at %d: the disk has %d bytes", n, off, im.Size())
	}
	buf := make([]byte, n)
	if _, err := im.ReadAt(buf, off); err != nil {
		return err
	}
	r.add("data", buf, c.dump(buf))
	return nil
}

func (c *readCmd) dump(b []byte) string {
	if c.Hex {
		return hex.Dump(b)
	}
	return string(b)
}

func countBits(b []byte) int {
	n := 0
	for _, c := range b {
		n += bits.OnesCount8(c)
	}
	return n
}

// hexLines prints b as 32 bytes (64 hex digits) per line.
func hexLines(b []byte) string {
	var s strings.Builder
	for i := 0; i < len(b); i += 32 {
		s.WriteString(hex.EncodeToString(b[i:min(i+32, len(b))]))
		s.WriteByte('\n')
	}
	return s.String()
}
