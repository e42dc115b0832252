package main

import (
	"fmt"
	"os"
	"syscall"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/disk"
	"gotap.dev/libvhd"
)

// layer is one file of a VBD's image chain, top first.
type layer struct {
	Kind      string // vhd, raw (a VHD's raw parent) or aio
	Path      string
	Virtual   int64 // the size the guest sees
	File      int64 // the file's length
	Allocated int64 // bytes this layer holds data for
}

// loadChain inspects a VBD's image files: a VHD chain through libvhd,
// read-only, so the tapdisk serving it is not disturbed; an aio file by
// its blocks on disk. Disks in memory or over NBD have no files here.
func loadChain(info wire.Info) ([]layer, error) {
	c, err := disk.ParseChain(info.Image)
	if err != nil {
		return nil, err
	}
	spec := c.Image // the files are under the filter layers
	switch spec.Type {
	case "vhd":
		return vhdChain(spec.Path)
	case "aio":
		l, err := rawLayer("aio", spec.Path)
		l.Virtual = info.Size // a block device's own size is not in stat
		return []layer{l}, err
	}
	return nil, nil
}

func vhdChain(path string) ([]layer, error) {
	top, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true, NoLock: true})
	if err != nil {
		return nil, err
	}
	defer top.Close() // closes the parents too
	var layers []layer
	last := top
	for im := top; im != nil; im = im.Parent() {
		fi, err := os.Stat(im.Path())
		if err != nil {
			return layers, err
		}
		alloc := int64(im.AllocatedBlocks()) * im.BlockSize()
		if im.Type() == libvhd.Fixed {
			alloc = im.Size()
		}
		layers = append(layers, layer{Kind: "vhd", Path: im.Path(), Virtual: im.Size(), File: fi.Size(), Allocated: alloc})
		last = im
	}
	if last.ParentRaw() && last.ParentPath() != "" {
		l, err := rawLayer("raw", last.ParentPath())
		layers = append(layers, l)
		return layers, err
	}
	return layers, nil
}

// rawLayer describes a plain file: sparse parts are not allocated.
func rawLayer(kind, path string) (layer, error) {
	l := layer{Kind: kind, Path: path}
	fi, err := os.Stat(path)
	if err != nil {
		return l, fmt.Errorf("stat image: %w", err)
	}
	l.File, l.Virtual, l.Allocated = fi.Size(), fi.Size(), fi.Size()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && fi.Mode().IsRegular() {
		l.Allocated = min(st.Blocks*512, fi.Size())
	}
	return l, nil
}
