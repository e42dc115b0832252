package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"slices"
	"strings"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers"
	nbdclient "gotap.dev/libtap/drivers/nbd"
	"gotap.dev/libvhd"
	"gotap.dev/libvhd/imagefile"
)

// source is a convert's SOURCE, opened read-only through libtap's
// drivers, as libvhd.Convert reads it.
type source struct {
	disk.Driver
	spec string // what was opened: vhd:PATH, aio:PATH, nbd:ADDR…
	ext  []disk.Extent
}

// openSource opens SOURCE: an NBD URI, a tapdisk spec (TYPE:PATH, with
// filter layers), or a path, read as a VHD chain if it holds a VHD and
// as a raw disk if not.
func openSource(name string, parentDirs []string) (*source, error) {
	if scheme, _, ok := strings.Cut(name, "://"); ok && strings.HasPrefix(scheme, "nbd") {
		return openNBD(name)
	}
	spec, err := sourceSpec(name)
	if err != nil {
		return nil, err
	}
	// Buffered reads: the copy is sequential, and the page cache reads
	// ahead of it.
	d, err := drivers.Open(spec, drivers.Options{ReadOnly: true, NoDirect: true, ParentDirs: parentDirs})
	if err != nil {
		return nil, err
	}
	return &source{Driver: d, spec: spec}, nil
}

// sourceSpec is the tapdisk spec SOURCE stands for.
func sourceSpec(name string) (string, error) {
	prefix, _, hasColon := strings.Cut(name, ":")
	if hasColon && (slices.Contains(disk.Types, prefix) || slices.Contains(disk.Filters, prefix)) {
		c, err := disk.ParseChain(name)
		if err != nil {
			return "", usagef("%v", err)
		}
		for _, l := range c.Layers {
			if _, err := drivers.Layer(l, drivers.Options{}); err != nil {
				return "", usagef("%s: %v", name, err)
			}
		}
		return name, nil
	}
	vhd, err := probe(name)
	switch {
	case err == nil && vhd:
		return "vhd:" + name, nil
	case err == nil:
		return "aio:" + name, nil
	case hasColon && errors.Is(err, fs.ErrNotExist):
		return "", usagef("%s: no such file, nor a known disk type %q (types: %s; NBD: nbd://HOST:PORT/EXPORT, nbd+unix:///EXPORT?socket=PATH)",
			name, prefix, strings.Join(disk.Types, ", "))
	}
	return "", err
}

// probe reports whether the file at path holds a VHD (see
// libvhd.LooksLikeVHD).
func probe(path string) (bool, error) {
	f, err := imagefile.Open(path, os.O_RDONLY, 0)
	if err != nil {
		return false, fmt.Errorf("source: %w", err)
	}
	defer f.Close()
	size, err := imagefile.Size(f)
	if err != nil {
		return false, fmt.Errorf("source: %w", err)
	}
	vhd, err := libvhd.LooksLikeVHD(f, size)
	if err != nil {
		return false, fmt.Errorf("source %s: %w", path, err)
	}
	return vhd, nil
}

// openNBD opens an NBD URI's export.
func openNBD(uri string) (*source, error) {
	addr, export, err := parseNBDURI(uri)
	if err != nil {
		return nil, err
	}
	d, err := nbdclient.Dial(addr, nbdclient.Options{ReadOnly: true, Export: export})
	if err != nil {
		return nil, err
	}
	return &source{Driver: d, spec: "nbd:" + addr}, nil
}

// parseNBDURI reads nbd://HOST[:PORT][/EXPORT] and
// nbd+unix:///[EXPORT]?socket=PATH, as nbdinfo and QEMU write them, into
// the nbd: driver's address and the export's name.
func parseNBDURI(uri string) (addr, export string, err error) {
	u, err := url.Parse(uri)
	if err != nil {
		return "", "", usagef("%v", err)
	}
	switch u.Scheme {
	case "nbd":
		addr = u.Host
		if u.Hostname() == "" {
			return "", "", usagef("%s: want nbd://HOST[:PORT]/EXPORT", uri)
		}
		if u.Port() == "" {
			addr += ":10809" // the IANA port
		}
	case "nbd+unix":
		addr = "unix:" + u.Query().Get("socket")
		if addr == "unix:" || u.Host != "" {
			return "", "", usagef("%s: want nbd+unix:///EXPORT?socket=PATH", uri)
		}
	default:
		return "", "", usagef("%s: NBD scheme %q not supported (nbd://HOST:PORT/EXPORT and nbd+unix:///EXPORT?socket=PATH are)", uri, u.Scheme)
	}
	return addr, strings.TrimPrefix(u.Path, "/"), nil
}

// ReadAt reads through the driver: all of p, or an error.
func (s *source) ReadAt(p []byte, off int64) (int, error) {
	if err := s.ReadV([][]byte{p}, off); err != nil {
		return 0, err
	}
	return len(p), nil
}

// AppendRuns is the driver's block status as libvhd's runs.
func (s *source) AppendRuns(dst []libvhd.Run, off, n int64) ([]libvhd.Run, error) {
	var err error
	if s.ext, err = s.Extents(s.ext[:0], off, n); err != nil {
		return dst, err
	}
	for _, e := range s.ext {
		dst = append(dst, libvhd.Run{Offset: e.Offset, Length: e.Length, Hole: e.Hole})
	}
	return dst, nil
}
