package main

import (
	"fmt"
	"io"
	"os"

	"gotap.dev/libvhd"
	"gotap.dev/libvhd/imagefile"
)

// dumpHeaders prints what blktap's `read -p` prints of an image: its
// summaries, or for one that does not open, the failure and the footer
// and header as found (check's report of an invalid image ends so).
func dumpHeaders(w io.Writer, path string) {
	c := &readCmd{image: image{Name: path}}
	im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true, NoParent: true, NoLock: true, AllowDisabled: true})
	if err != nil {
		c.unopened(w, err)
		return
	}
	defer im.Close()
	r := newReport(w, false)
	c.headers(r, im)
	r.done()
}

// unopened is blktap's answer for an image read cannot open: the
// failure, then the footer found (the EOF one if valid, else the copy at
// offset 0, valid or not; zeros if none could be read) and the dynamic
// header it points to, as found; nothing of a file that does not open.
func (c *readCmd) unopened(w io.Writer, openErr error) {
	fmt.Fprintf(w, "Failed to open %s: %d\n", c.Name, -int(errnoOf(openErr)))
	fmt.Fprintf(w, "\n%s appears invalid; dumping headers\n\n", c.Name)
	f, h, ok := rawMetadata(c.Name)
	if !ok {
		return
	}
	text, _ := render([]section{
		{"VHD Footer Summary", [][]field{c.footerFields(f)}},
		{"VHD Header Summary", [][]field{c.headerFields(h)}},
	})
	io.WriteString(w, text)
}

// rawMetadata reads a footer and a header without judging them; ok is
// false for a file that does not open (or is no regular file or block
// device).
func rawMetadata(path string) (f libvhd.Footer, h libvhd.Header, ok bool) {
	file, err := imagefile.Open(path, os.O_RDONLY, 0) // never waits on a FIFO
	if err != nil {
		return f, h, false
	}
	defer file.Close()
	size, err := file.Seek(0, io.SeekEnd)
	if err != nil {
		return f, h, false
	}
	buf := make([]byte, libvhd.HeaderSize)
	var valid error = libvhd.ErrNoFooter
	if _, err := file.ReadAt(buf[:libvhd.FooterSize], size-libvhd.FooterSize); err == nil {
		f, valid = libvhd.ParseFooter(buf[:libvhd.FooterSize])
	}
	if valid != nil {
		if _, err := file.ReadAt(buf[:libvhd.FooterSize], 0); err == nil {
			f, _ = libvhd.ParseFooter(buf[:libvhd.FooterSize])
		}
	}
	if _, err := file.ReadAt(buf, int64(f.DataOffset)); err == nil {
		h, _ = libvhd.ParseHeader(buf)
	}
	return f, h, true
}
