package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

// sparseRaw writes a raw disk of size bytes: random data in 64 KiB runs
// at scattered 4 KiB-aligned offsets, written zeros (a block's worth),
// and holes everywhere else. It returns the path and the bytes.
func sparseRaw(t *testing.T, dir string, size int64) (string, []byte) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, uint64(size)))
	model := make([]byte, size)
	f, err := os.Create(filepath.Join(dir, "disk.raw"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		t.Fatal(err)
	}
	for range 12 {
		off := rng.Int64N(size/4096) * 4096
		run := model[off:min(off+64<<10, size)]
		for i := range run {
			run[i] = byte(rng.Uint32())
		}
		if _, err := f.WriteAt(run, off); err != nil {
			t.Fatal(err)
		}
	}
	// Written zeros: data to SEEK_DATA, nothing to the copy.
	if _, err := f.WriteAt(make([]byte, 2<<20), size/2); err != nil {
		t.Fatal(err)
	}
	copy(model[size/2:size/2+2<<20], make([]byte, 2<<20))
	return f.Name(), model
}

// usedBlocks counts the blocks of the disk holding a non-zero byte.
func usedBlocks(model []byte) int {
	n := 0
	for b := 0; b < len(model); b += libvhd.DefaultBlockSize {
		if !bytes.Equal(model[b:min(b+libvhd.DefaultBlockSize, len(model))], make([]byte, min(libvhd.DefaultBlockSize, len(model)-b))) {
			n++
		}
	}
	return n
}

// qemuData is how many bytes `qemu-img map` reports as data in img.
func qemuData(t *testing.T, format, img string) int64 {
	t.Helper()
	var m []struct {
		Length int64 `json:"length"`
		Data   bool  `json:"data"`
	}
	out := vhdtest.Run(t, "qemu-img", "map", "-f", format, "--output=json", img)
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("qemu-img map: %v\n%s", err, out)
	}
	var n int64
	for _, e := range m {
		if e.Data {
			n += e.Length
		}
	}
	return n
}

// TestConvertRoundTrip: raw → dynamic VHD → raw gives the same bytes
// (cmp), raw → fixed reads the same in QEMU, and holes stay holes all the
// way: the VHD allocates only blocks with data (query -a, qemu-img map)
// and the raw copy takes no more room than its data.
func TestConvertRoundTrip(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-img")
	dir := t.TempDir()
	const size = 64 << 20
	raw, model := sparseRaw(t, dir, size)
	vhd, fixed, back := filepath.Join(dir, "disk.vhd"), filepath.Join(dir, "fixed.vhd"), filepath.Join(dir, "back.raw")

	var sum convertSummary
	if err := json.Unmarshal([]byte(ok(t, "convert", raw, "-n", vhd, "--json")), &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Source != "aio:"+raw || sum.Type != "dynamic" || sum.Size != size || sum.Written+sum.Zeros+sum.Holes != size || sum.Zeros < 2<<20 {
		t.Errorf("convert --json = %+v; want %s read as raw, %d bytes, the written zeros skipped", sum, raw, size)
	}
	wantOutput(t, vhd+" is valid\n", "check", "-n", vhd)
	vhdtest.Run(t, "qemu-img", "compare", "-f", "vpc", "-F", "raw", vhd, raw)
	wantOutput(t, fmt.Sprintln(usedBlocks(model)), "query", "-n", vhd, "-a")
	if got, want := qemuData(t, "vpc", vhd), int64(usedBlocks(model))*libvhd.DefaultBlockSize; got != want {
		t.Errorf("qemu-img map: %d bytes of data; want %d (the blocks holding data)", got, want)
	}
	vhdtest.Run(t, "vhdiinfo", vhd)

	wantOutput(t, "", "convert", vhd, "-n", back, "-t", "raw")
	if got, _ := os.ReadFile(back); !bytes.Equal(got, model) {
		t.Fatalf("%s differs from %s", back, raw)
	}
	vhdtest.Run(t, "cmp", raw, back)
	// Slack for the file system's own blocks (extent trees), which
	// st_blocks counts.
	const slack = 16 << 10
	if a := vhdtest.AllocatedBytes(t, back); a > sum.Written+slack {
		t.Errorf("%s takes %d bytes on disk; want at most the %d of data", back, a, sum.Written)
	}

	wantOutput(t, "", "convert", raw, "-n", fixed, "-t", "fixed")
	vhdtest.Run(t, "qemu-img", "compare", "-f", "vpc", "-F", "raw", fixed, raw)
	wantOutput(t, fixed+" is valid\n", "check", "-n", fixed)
	if a := vhdtest.AllocatedBytes(t, fixed); a > sum.Written+4096+slack {
		t.Errorf("%s takes %d bytes on disk; want at most the %d of data and its footer", fixed, a, sum.Written)
	}
}

// TestConvertFlattensChain: a 3-deep chain becomes one standalone
// dynamic image that QEMU reads as libvhd reads the chain, and that
// allocates no block the chain left empty.
func TestConvertFlattensChain(t *testing.T) {
	vhdtest.RequireTool(t, "qemu-img")
	dir := t.TempDir()
	const size = 32 << 20
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"base.vhd", "mid.vhd", "leaf.vhd"}
	for i, name := range names {
		path := filepath.Join(dir, name)
		if i == 0 {
			ok(t, "create", "-n", path, "-s", "32")
		} else {
			ok(t, "snapshot", "-n", path, "-p", filepath.Join(dir, names[i-1]))
		}
		// Writes in the first 24 MiB: the rest is a hole in every layer.
		for range 6 {
			b := make([]byte, 512*(1+rng.IntN(256)))
			for j := range b {
				b[j] = byte(rng.Uint32())
			}
			writeData(t, path, b, rng.Int64N(24<<20/512-256)*512)
		}
	}
	leaf, flat := filepath.Join(dir, "leaf.vhd"), filepath.Join(dir, "flat.vhd")
	ok(t, "convert", leaf, "-n", flat)

	im, err := libvhd.Open(leaf, libvhd.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	model := make([]byte, size)
	_, err = im.ReadAt(model, 0)
	im.Close()
	if err != nil {
		t.Fatal(err)
	}
	view := filepath.Join(dir, "chain.raw")
	if err := os.WriteFile(view, model, 0o644); err != nil {
		t.Fatal(err)
	}
	vhdtest.Run(t, "qemu-img", "compare", "-f", "vpc", "-F", "raw", flat, view)
	wantOutput(t, flat+" is valid\n", "check", "-n", flat)
	wantOutput(t, "chain depth: 1\n", "query", "-n", flat, "-d")
	wantOutput(t, fmt.Sprintln(usedBlocks(model)), "query", "-n", flat, "-a")
	vhdtest.Run(t, "vhdiinfo", flat)
}

// TestConvertBadInput: what convert refuses, with its exit status and
// the words that say why; nothing is left behind.
func TestConvertBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	odd := write("odd.raw", bytes.Repeat([]byte{1}, 1000))
	empty := write("empty.raw", nil)
	exists := write("exists.vhd", []byte("keep me"))
	// A footer's cookie where a footer goes, but no valid footer.
	junk := write("junk.vhd", append(append(make([]byte, 1024), "conectix"...), make([]byte, 504)...))
	dst := filepath.Join(dir, "out.vhd")
	tests := []struct {
		name string
		args []string
		code syscall.Errno
		err  string
	}{
		{"missing source", []string{filepath.Join(dir, "none.raw"), "-n", dst}, syscall.ENOENT, "no such file or directory"},
		{"unknown type", []string{"qcow2:" + odd, "-n", dst}, syscall.EINVAL, `nor a known disk type "qcow2" (types: aio, vhd, ram, nbd`},
		{"spec without a path", []string{"vhd:", "-n", dst}, syscall.EINVAL, "want TYPE:PATH"},
		{"missing image in a spec", []string{"vhd:" + filepath.Join(dir, "none.vhd"), "-n", dst}, syscall.ENOENT, "no such file or directory"},
		{"bad filter options", []string{"delay:speed=9:aio:" + odd, "-n", dst}, syscall.EINVAL, "unknown option speed"},
		{"not a VHD after all", []string{junk, "-n", dst}, syscall.EINVAL, "footer"},
		{"existing destination", []string{odd, "-n", exists, "-t", "raw"}, syscall.EEXIST, "file already exists (--overwrite replaces it)"},
		{"a partial sector into a VHD", []string{odd, "-n", dst}, syscall.EINVAL, "not a whole number of 512-byte sectors"},
		{"an empty disk into a VHD", []string{empty, "-n", dst}, syscall.EINVAL, "empty disk: a VHD holds one sector at least (-t raw copies it)"},
		{"-S beside -t raw", []string{odd, "-n", dst, "-t", "raw", "-S", "10"}, syscall.EINVAL, "-S applies to -t dynamic only"},
		{"unknown output type", []string{odd, "-n", dst, "-t", "qcow2"}, syscall.EINVAL, "must be one of"},
		{"NBD over TLS", []string{"nbds://localhost/x", "-n", dst}, syscall.EINVAL, `scheme "nbds" not supported`},
		{"NBD socket missing", []string{"nbd+unix:///x", "-n", dst}, syscall.EINVAL, "want nbd+unix:///EXPORT?socket=PATH"},
		{"no NBD server", []string{"nbd+unix:///?socket=" + filepath.Join(dir, "none.sock"), "-n", dst}, syscall.ENOENT, "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fails(t, tt.code, tt.err, append([]string{"convert"}, tt.args...)...)
			if b, _ := os.ReadFile(exists); string(b) != "keep me" {
				t.Errorf("%s now holds %q", exists, b)
			}
			if left, _ := filepath.Glob(filepath.Join(dir, "*.partial-*")); len(left) > 0 || fileExists(dst) {
				t.Errorf("left behind: %q (and %s: %v)", left, dst, fileExists(dst))
			}
		})
	}
	// What the refusals suggest works: raw takes any size, and
	// --overwrite replaces.
	ok(t, "convert", odd, "-n", exists, "-t", "raw", "--overwrite")
	if b, _ := os.ReadFile(exists); !bytes.Equal(b, bytes.Repeat([]byte{1}, 1000)) {
		t.Errorf("--overwrite: %s holds %d bytes, not the source's 1000", exists, len(b))
	}
}

func fileExists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// TestParseNBDURI: the URI forms nbdinfo and QEMU take, as the nbd:
// driver's address and an export name.
func TestParseNBDURI(t *testing.T) {
	tests := []struct{ uri, addr, export string }{
		{"nbd://localhost", "localhost:10809", ""},
		{"nbd://127.0.0.1:10810/0", "127.0.0.1:10810", "0"},
		{"nbd://[::1]:10809/disk%20a", "[::1]:10809", "disk a"},
		{"nbd+unix:///?socket=/run/x.sock", "unix:/run/x.sock", ""},
		{"nbd+unix:///vm1?socket=/run/x.sock", "unix:/run/x.sock", "vm1"},
		{"nbd:///x", "", ""},                    // no host
		{"nbd+unix://host/x?socket=/s", "", ""}, // a host on a socket
		{"nbd+vsock:///x", "", ""},              // not supported
		{"nbds+unix:///x?socket=/s", "", ""},    // TLS: not supported
	}
	for _, tt := range tests {
		addr, export, err := parseNBDURI(tt.uri)
		if addr != tt.addr || export != tt.export || (err == nil) != (tt.addr != "") {
			t.Errorf("parseNBDURI(%q) = %q, %q, %v; want %q, %q", tt.uri, addr, export, err, tt.addr, tt.export)
		}
	}
}
