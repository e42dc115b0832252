package libvhd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"gotap.dev/libvhd/vhdtest"
)

// chainSource is an open chain as a convert source: what no layer holds
// is a hole.
type chainSource struct{ *Image }

func (c chainSource) AppendRuns(dst []Run, off, n int64) ([]Run, error) {
	ext, err := c.AppendExtents(nil, off, n)
	for _, e := range ext {
		dst = append(dst, Run{e.Offset, e.Length, e.Layer == Unallocated})
	}
	return dst, err
}

// memSource is a disk in memory whose holes are declared, and must never
// be read; readErr fails every read.
type memSource struct {
	t       *testing.T
	data    []byte
	holes   []Run
	readErr error
}

func (m *memSource) Size() int64 { return int64(len(m.data)) }

func (m *memSource) ReadAt(p []byte, off int64) (int, error) {
	for _, h := range m.holes {
		if off < h.Offset+h.Length && h.Offset < off+int64(len(p)) {
			m.t.Errorf("read of %d+%d touches the hole %d+%d", off, len(p), h.Offset, h.Length)
		}
	}
	if m.readErr != nil {
		return 0, m.readErr
	}
	return copy(p, m.data[off:]), nil
}

func (m *memSource) AppendRuns(dst []Run, off, n int64) ([]Run, error) {
	for end := off + n; off < end; {
		r := Run{Offset: off, Length: end - off}
		for _, h := range m.holes {
			switch {
			case h.Offset <= off && off < h.Offset+h.Length:
				r = Run{off, min(end, h.Offset+h.Length) - off, true}
			case off < h.Offset && h.Offset < off+r.Length:
				r.Length = h.Offset - off
			}
		}
		dst = append(dst, r)
		off += r.Length
	}
	return dst, nil
}

// sparseDisk is size bytes of random data in a few runs, with zeros read
// as data and holes declared between them, unaligned edges included.
func sparseDisk(t *testing.T, size int64) *memSource {
	rng := rand.New(rand.NewPCG(11, 5))
	m := &memSource{t: t, data: make([]byte, size)}
	for _, r := range []Run{{0, 1 << 20, false}, {3<<20 + 512, 7 << 10, false}, {size - 4<<10, 4 << 10, false}} {
		for i := r.Offset; i < r.Offset+r.Length; i++ {
			m.data[i] = byte(rng.Uint32() | 1)
		}
	}
	m.holes = []Run{{4 << 20, 2 << 20, true}, {7 << 20, 1 << 20, true}}
	return m
}

// nonZeroGrains counts the bytes of the 4 KiB grains (clipped to the
// disk) holding any non-zero byte, and the blocks holding one.
func nonZeroGrains(data []byte, blockSize int) (n int64, blocks int) {
	counted := map[int]bool{}
	for i := 0; i < len(data); i += 4096 {
		g := data[i:min(i+4096, len(data))]
		if !bytes.Equal(g, make([]byte, len(g))) {
			n += int64(len(g))
			counted[i/blockSize] = true
		}
	}
	return n, len(counted)
}

// TestConvertKeepsHoles: each format reads back as the source, the data
// alone is written (holes unread, zeros unwritten), and the result is as
// sparse as that: unallocated blocks, or holes in the file.
func TestConvertKeepsHoles(t *testing.T) {
	const size = 9<<20 + 4<<10
	for _, tt := range []struct {
		name   string
		format ConvertFormat
	}{
		{"dynamic", ToDynamic},
		{"fixed", ToFixed},
		{"raw", ToRaw},
	} {
		t.Run(tt.name, func(t *testing.T) {
			src := sparseDisk(t, size)
			dst := filepath.Join(t.TempDir(), "out")
			var last int64
			res, err := Convert(context.Background(), dst, src, ConvertOptions{Format: tt.format, Progress: func(done, total int64) {
				if done < last || total != size {
					t.Errorf("progress %d/%d after %d", done, total, last)
				}
				last = done
			}})
			if err != nil {
				t.Fatal(err)
			}
			written, blocks := nonZeroGrains(src.data, DefaultBlockSize)
			want := ConvertResult{Size: size, Written: written, Zeros: size - written - 3<<20, Holes: 3 << 20}
			if res != want {
				t.Errorf("Convert = %+v; want %+v", res, want)
			}
			if last != size {
				t.Errorf("progress ended at %d; want %d", last, size)
			}
			// The data, and for a VHD a page of metadata per block (its
			// bitmap) and two more (header and BAT, footer).
			most := roundUp(written, 4096)
			if tt.format != ToRaw {
				most += int64(blocks+2) * 4096
			}
			if alloc := vhdtest.AllocatedBytes(t, dst); alloc > most {
				t.Errorf("%s takes %d bytes on disk; want at most %d", dst, alloc, most)
			}
			if tt.format == ToRaw {
				got, err := os.ReadFile(dst)
				if err != nil || !bytes.Equal(got, src.data) {
					t.Fatalf("raw copy differs from the source (%v)", err)
				}
				return
			}
			im, err := Open(dst, OpenOptions{ReadOnly: true})
			if err != nil {
				t.Fatal(err)
			}
			defer im.Close()
			mustEqualDisk(t, im, src.data)
			if n := im.AllocatedBlocks(); tt.format == ToDynamic && n != blocks {
				t.Errorf("%d blocks allocated; want %d", n, blocks)
			}
			mustBeValid(t, dst)
			qemuCompare(t, dst, writeModel(t, src.data))
		})
	}
}

// TestConvertFlattensChain: a 3-deep chain of random writes becomes one
// standalone dynamic image that reads as the chain did (QEMU judging),
// holding no block the chain left empty.
func TestConvertFlattensChain(t *testing.T) {
	dir := t.TempDir()
	const size = 24 << 20
	rng := rand.New(rand.NewPCG(3, 3))
	model := make([]byte, size)
	parent := ""
	for i, writes := range []int{20, 10, 10} {
		path := filepath.Join(dir, fmt.Sprintf("l%d.vhd", i))
		im, err := Create(path, CreateOptions{Type: Dynamic, Size: size, Parent: parent})
		if err != nil {
			t.Fatal(err)
		}
		// Writes in the first 16 MiB only: the last blocks stay holes.
		randomWrites(t, rng, im, model[:16<<20], writes, SectorSize, 1<<20)
		mustClose(t, im)
		parent = path
	}
	top, err := Open(parent, OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer top.Close()
	flat := filepath.Join(dir, "flat.vhd")
	res, err := Convert(context.Background(), flat, chainSource{top}, ConvertOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Holes < 8<<20 {
		t.Errorf("Convert = %+v; want the last 8 MiB at least read as holes", res)
	}
	im, err := Open(flat, OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if im.Type() != Dynamic {
		t.Errorf("%s is %v; want a standalone dynamic image", flat, im.Type())
	}
	mustEqualDisk(t, im, model)
	if _, blocks := nonZeroGrains(model, DefaultBlockSize); im.AllocatedBlocks() != blocks {
		t.Errorf("%d blocks allocated; want %d", im.AllocatedBlocks(), blocks)
	}
	mustBeValid(t, flat)
	qemuCompare(t, flat, writeModel(t, model))
}

// TestConvertRefuses: what Convert refuses leaves the destination as it
// was and no partial file behind.
func TestConvertRefuses(t *testing.T) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	readErr := errors.New("injected read error")
	tests := []struct {
		name    string
		format  ConvertFormat
		size    int64
		exists  bool
		readErr error
		ctx     context.Context
		want    error
	}{
		{"existing destination", ToRaw, 1 << 20, true, nil, context.Background(), fs.ErrExist},
		{"partial sector into a VHD", ToDynamic, 1000, false, nil, context.Background(), ErrPartialSector},
		{"partial sector into a fixed VHD", ToFixed, 1000, false, nil, context.Background(), ErrPartialSector},
		{"too large for a VHD", ToDynamic, MaxDiskSize + SectorSize, false, nil, context.Background(), ErrTooLarge},
		{"empty into a VHD", ToFixed, 0, false, nil, context.Background(), ErrEmptyDisk},
		{"read error", ToDynamic, 1 << 20, false, readErr, context.Background(), readErr},
		{"canceled", ToFixed, 1 << 20, false, nil, canceled, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			dst := filepath.Join(dir, "out")
			if tt.exists {
				if err := os.WriteFile(dst, []byte("mine"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			src := &memSource{t: t, data: make([]byte, min(tt.size, 1<<20)), readErr: tt.readErr}
			if len(src.data) > 0 {
				src.data[0] = 1
			}
			_, err := Convert(tt.ctx, dst, sizedSource{src, tt.size}, ConvertOptions{Format: tt.format})
			if !errors.Is(err, tt.want) {
				t.Fatalf("Convert = %v; want %v", err, tt.want)
			}
			want := []string{}
			if tt.exists {
				want = []string{"out"}
				if b, _ := os.ReadFile(dst); string(b) != "mine" {
					t.Errorf("destination now holds %q", b)
				}
			}
			if got := dirNames(t, dir); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("folder holds %q; want %q", got, want)
			}
		})
	}
}

// sizedSource claims a size of its own: a huge disk need not be in memory
// to be refused.
type sizedSource struct {
	*memSource
	size int64
}

func (s sizedSource) Size() int64 { return s.size }

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

// TestConvertOverwrite: asked to, a convert replaces a file, but still
// refuses what is not a regular file.
func TestConvertOverwrite(t *testing.T) {
	dir := t.TempDir()
	dst := filepath.Join(dir, "out.raw")
	if err := os.WriteFile(dst, bytes.Repeat([]byte("old"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	src := &memSource{t: t, data: bytes.Repeat([]byte("new!"), 300)} // 1200 bytes: any size goes raw
	if _, err := Convert(context.Background(), dst, src, ConvertOptions{Format: ToRaw, Overwrite: true}); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(dst); !bytes.Equal(got, src.data) {
		t.Errorf("%s holds %d bytes, not the new disk", dst, len(got))
	}
	if _, err := Convert(context.Background(), dir, src, ConvertOptions{Format: ToRaw, Overwrite: true}); !errors.Is(err, ErrFileType) {
		t.Errorf("Convert onto a folder = %v; want %v", err, ErrFileType)
	}
	if got := dirNames(t, dir); len(got) != 1 {
		t.Errorf("folder holds %q; want the destination alone", got)
	}
}

// TestEachRun: a map is clipped to its window, and what it leaves out is
// read as data, never skipped.
func TestEachRun(t *testing.T) {
	tests := []struct {
		name string
		runs []Run
		want []Run
	}{
		{"exact", []Run{{0, 10, true}, {10, 10, false}}, []Run{{0, 10, true}, {10, 10, false}}},
		{"beyond the window", []Run{{-5, 10, false}, {5, 30, true}}, []Run{{0, 5, false}, {5, 15, true}}},
		{"gaps", []Run{{2, 3, true}, {8, 4, true}}, []Run{{0, 2, false}, {2, 3, true}, {5, 3, false}, {8, 4, true}, {12, 8, false}}},
		{"overlapping", []Run{{0, 10, true}, {5, 10, false}}, []Run{{0, 10, true}, {10, 5, false}, {15, 5, false}}},
		{"none", nil, []Run{{0, 20, false}}},
	}
	for _, tt := range tests {
		var got []Run
		eachRun(tt.runs, 0, 20, func(r Run) error { got = append(got, r); return nil })
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%s: eachRun(%v) = %v; want %v", tt.name, tt.runs, got, tt.want)
		}
	}
}

// TestLooksLikeVHD: the footer cookie where each producer puts it makes a
// VHD; elsewhere, or in a file too short for it, a raw disk.
func TestLooksLikeVHD(t *testing.T) {
	cookie := []byte("conectix")
	at := func(size, off int) []byte {
		b := make([]byte, size)
		copy(b[off:], cookie)
		return b
	}
	tests := []struct {
		name string
		file []byte
		want bool
	}{
		{"EOF footer", at(4096, 4096-512), true},
		{"511-byte EOF footer", at(4096, 4096-511), true},
		{"copy at offset 0 only", at(4096, 0), true},
		{"cookie elsewhere", at(4096, 1024), false},
		{"zeros", make([]byte, 4096), false},
		{"empty", nil, false},
		{"a short file holding the cookie", cookie, true},
	}
	for _, tt := range tests {
		got, err := LooksLikeVHD(bytes.NewReader(tt.file), int64(len(tt.file)))
		if err != nil || got != tt.want {
			t.Errorf("%s: LooksLikeVHD = %v, %v; want %v", tt.name, got, err, tt.want)
		}
	}
}
