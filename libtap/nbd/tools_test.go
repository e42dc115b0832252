package nbd_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gotap.dev/libtap/disk"
	"gotap.dev/libvhd"
	"gotap.dev/libvhd/vhdtest"
)

// TestQemuIO: QEMU negotiates structured replies and block status; its
// pattern write and verify must pass.
func TestQemuIO(t *testing.T) {
	s := serve(t, "aio:"+rawDisk(t, 16<<20))
	out := vhdtest.Run(t, "qemu-io", "-f", "raw",
		"-c", "write -P 0x5a 0 1M", "-c", "read -P 0x5a 0 1M",
		"-c", "write -z 1M 1M", "-c", "read -P 0 1M 1M",
		"-c", "aio_write -P 0x33 4M 64k", "-c", "aio_flush", "-c", "read -P 0x33 4M 64k",
		s.uri())
	if bytes.Contains([]byte(out), []byte("fail")) || bytes.Contains([]byte(out), []byte("Pattern verification failed")) {
		t.Fatalf("qemu-io:\n%s", out)
	}
	vhdtest.Run(t, "qemu-img", "map", "--output=json", "-f", "raw", s.uri())
}

// TestNbdcopy copies 64 MiB of random data in and back out.
func TestNbdcopy(t *testing.T) {
	vhdtest.RequireTool(t, "nbdcopy")
	const size = 64 << 20
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	data := make([]byte, size)
	rand.Read(data)
	if err := os.WriteFile(src, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, spec string }{
		{"aio", "aio:" + rawDisk(t, size)},
		{"vhd", "vhd:" + vhdDisk(t, t.TempDir(), "d.vhd", size, "")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := serve(t, tc.spec)
			vhdtest.Run(t, "nbdcopy", src, s.uri())
			dst := filepath.Join(t.TempDir(), "dst")
			vhdtest.Run(t, "nbdcopy", s.uri(), dst)
			vhdtest.Run(t, "cmp", src, dst)
		})
	}
}

// mapEntry is one extent of `nbdinfo --map --json`.
type mapEntry struct {
	Offset int64 `json:"offset"`
	Length int64 `json:"length"`
	Type   int   `json:"type"`
}

// nbdinfoMap is the allocation map nbdinfo reads over block status, as
// extents (type bit 0 is NBD_STATE_HOLE).
func nbdinfoMap(t *testing.T, uri string) []disk.Extent {
	t.Helper()
	var m []mapEntry
	out := vhdtest.Run(t, "nbdinfo", "--map", "--json", uri)
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		t.Fatalf("nbdinfo --map --json: %v\n%s", err, out)
	}
	var got []disk.Extent
	for _, e := range m {
		got = disk.AppendExtent(got, disk.Extent{Offset: e.Offset, Length: e.Length, Hole: e.Type&1 != 0})
	}
	return got
}

// vhdMap is libvhd's own view of the chain's allocation.
func vhdMap(t *testing.T, path string) []disk.Extent {
	t.Helper()
	im, err := libvhd.Open(path, libvhd.OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	ext, err := im.AppendExtents(nil, 0, im.Size())
	if err != nil {
		t.Fatal(err)
	}
	var want []disk.Extent
	for _, e := range ext {
		want = disk.AppendExtent(want, disk.Extent{Offset: e.Offset, Length: e.Length, Hole: e.Layer == libvhd.Unallocated})
	}
	return want
}

func writeVHD(t *testing.T, path string, offs ...int64) {
	t.Helper()
	im, err := libvhd.Open(path, libvhd.OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, off := range offs {
		if _, err := im.WriteAt(bytes.Repeat([]byte{0xA5}, 4096), off); err != nil {
			t.Fatal(err)
		}
	}
	if err := im.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestNbdinfoMapMatchesVHD(t *testing.T) {
	vhdtest.RequireTool(t, "nbdinfo")
	const size = 64 << 20
	dir := t.TempDir()
	base := vhdDisk(t, dir, "base.vhd", size, "")
	writeVHD(t, base, 0, 5<<20, 40<<20+512*3)
	child := vhdDisk(t, dir, "child.vhd", 0, base)
	writeVHD(t, child, 12<<20, 40<<20+512*3, 63<<20)
	for _, path := range []string{base, child} {
		t.Run(filepath.Base(path), func(t *testing.T) {
			want := vhdMap(t, path)
			s := serve(t, "vhd:"+path)
			got := nbdinfoMap(t, s.uri())
			if !slices.Equal(got, want) {
				t.Errorf("nbdinfo --map = %v; want libvhd's %v", got, want)
			}
			if len(want) < 4 {
				t.Errorf("libvhd map %v: the test wants several data and hole runs", want)
			}
		})
	}
}

func TestNbdinfoMapMatchesSparseFile(t *testing.T) {
	vhdtest.RequireTool(t, "nbdinfo")
	path := rawDisk(t, 32<<20)
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt(bytes.Repeat([]byte{1}, 1<<20), 8<<20)
	f.Close()
	s := serve(t, "aio:"+path)
	got := nbdinfoMap(t, s.uri())
	want := []disk.Extent{
		{Offset: 0, Length: 8 << 20, Hole: true},
		{Offset: 8 << 20, Length: 1 << 20},
		{Offset: 9 << 20, Length: 23 << 20, Hole: true},
	}
	if !slices.Equal(got, want) {
		t.Errorf("nbdinfo --map = %v; want %v", got, want)
	}
}
