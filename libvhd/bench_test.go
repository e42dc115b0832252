package libvhd

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// Benchmarks against a raw file on the same file system. Run with
//
//	go test -run '^$' -bench . -benchmem -count 3 ./libvhd
//
// The files go to the test's temporary folder ($TMPDIR): put it on the
// disk to measure, not on a tmpfs.

const (
	seqTotal = 1 << 30 // bytes written by BenchmarkSequentialWrite
	seqChunk = 1 << 20 // bytes per WriteAt

	randDisk = 64 << 20 // disk size for the random 4 KiB benchmarks
	randIO   = 4 << 10
)

// disk is what the benchmarks drive: an *Image or an *os.File.
type disk interface {
	io.ReaderAt
	io.WriterAt
}

type namedDisk struct {
	name string
	disk disk
}

// pattern is n non-zero bytes, so that no layer can take them for a hole.
func pattern(n int) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*7 + 1)
	}
	return p
}

// BenchmarkSequentialWrite writes 1 GiB in 1 MiB writes into a new file,
// then makes it durable: a dynamic VHD (Create … Flush; "vhd" writes its
// metadata through, a sync per new block, "vhd-deferred" keeps it for
// the Flush, as OpenOptions.DeferMetadata) against a raw file
// (os.Create … Sync) and against a raw file sized first (the limit: its
// writes never grow the file, while a growing raw file updates its size at
// every write, and a VHD once per 2 MiB block, when its footer moves).
func BenchmarkSequentialWrite(b *testing.B) {
	buf := pattern(seqChunk)
	for _, bc := range []struct {
		name   string
		create func(path string) (d disk, sync func() error, err error)
	}{
		{"vhd", func(path string) (disk, func() error, error) {
			im, err := newBenchImage(path, seqTotal, false)
			return im, im.Flush, err
		}},
		{"vhd-deferred", func(path string) (disk, func() error, error) {
			im, err := newBenchImage(path, seqTotal, true)
			return im, im.Flush, err
		}},
		{"raw", func(path string) (disk, func() error, error) {
			f, err := os.Create(path)
			return f, fdatasync(f), err
		}},
		{"raw-sized", func(path string) (disk, func() error, error) {
			f, err := os.Create(path)
			if err == nil {
				err = f.Truncate(seqTotal)
			}
			return f, fdatasync(f), err
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(seqTotal)
			b.ReportAllocs()
			path := filepath.Join(b.TempDir(), "seq")
			for b.Loop() {
				d, sync, err := bc.create(path)
				if err != nil {
					b.Fatal(err)
				}
				for off := int64(0); off < seqTotal; off += seqChunk {
					if _, err := d.WriteAt(buf, off); err != nil {
						b.Fatal(err)
					}
				}
				if err := sync(); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				if err := d.(io.Closer).Close(); err != nil {
					b.Fatal(err)
				}
				if err := os.Remove(path); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
			}
		})
	}
}

// newBenchImage creates an empty dynamic image and opens it with
// deferMeta as OpenOptions.DeferMetadata.
func newBenchImage(path string, size int64, deferMeta bool) (*Image, error) {
	im, err := Create(path, CreateOptions{Type: Dynamic, Size: size})
	if err != nil {
		return nil, err
	}
	if err := im.Close(); err != nil {
		return nil, err
	}
	return Open(path, OpenOptions{DeferMetadata: deferMeta})
}

// BenchmarkAllocate4K is the worst case of metadata written through: every
// 4 KiB write allocates a new block (a sync each), against the same
// writes with the metadata deferred to a Flush every 64 writes.
func BenchmarkAllocate4K(b *testing.B) {
	const size = 1 << 40
	buf := pattern(randIO)
	for _, deferMeta := range []bool{false, true} {
		name := map[bool]string{false: "vhd", true: "vhd-deferred"}[deferMeta]
		b.Run(name, func(b *testing.B) {
			b.SetBytes(randIO)
			b.ReportAllocs()
			im, err := newBenchImage(filepath.Join(b.TempDir(), "alloc"), size, deferMeta)
			if err != nil {
				b.Fatal(err)
			}
			defer im.Close()
			blk := int64(0)
			for b.Loop() {
				if _, err := im.WriteAt(buf, blk*im.BlockSize()); err != nil {
					b.Fatal(err)
				}
				if blk++; blk%64 == 0 {
					if err := im.Flush(); err != nil {
						b.Fatal(err)
					}
				}
				if blk*im.BlockSize() >= size {
					b.Fatal("disk full: lower -benchtime")
				}
			}
		})
	}
}

// fdatasync is how libvhd syncs (OSFS): the raw files sync the same way.
func fdatasync(f *os.File) func() error {
	return osFile{f}.Sync
}

// randomDisks are the targets of the random 4 KiB benchmarks, every block
// already allocated: a fully written VHD (its batmap says every bitmap is
// full), one with every other 4 KiB written (each I/O consults a bitmap),
// and a raw file for reference.
func randomDisks(b *testing.B) []namedDisk {
	dir := b.TempDir()
	buf := pattern(randIO)
	fill := func(d disk, step int64) {
		for off := int64(0); off < randDisk; off += step {
			if _, err := d.WriteAt(buf, off); err != nil {
				b.Fatal(err)
			}
		}
	}
	var out []namedDisk
	for _, v := range []struct {
		name string
		step int64
	}{{"vhd-full", randIO}, {"vhd-partial", 2 * randIO}} {
		im, err := Create(filepath.Join(dir, v.name), CreateOptions{Type: Dynamic, Size: randDisk})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { im.Close() })
		fill(im, v.step)
		if err := im.Flush(); err != nil {
			b.Fatal(err)
		}
		out = append(out, namedDisk{v.name, im})
	}
	f, err := os.Create(filepath.Join(dir, "raw"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close() })
	fill(f, randIO)
	// Clean pages, as Flush leaves the images': writes that dirty a page
	// cost more than writes to a dirty one.
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
	return append(out, namedDisk{"raw", f})
}

// randomOffsets is a fixed sequence of 4 KiB-aligned offsets in the disk.
func randomOffsets() []int64 {
	rng := rand.New(rand.NewPCG(1, 2))
	offs := make([]int64, 4096)
	for i := range offs {
		offs[i] = rng.Int64N(randDisk/randIO) * randIO
	}
	return offs
}

func BenchmarkRandomRead4K(b *testing.B) {
	benchmarkRandom(b, func(d disk, p []byte, off int64) (int, error) { return d.ReadAt(p, off) })
}

func BenchmarkRandomWrite4K(b *testing.B) {
	benchmarkRandom(b, func(d disk, p []byte, off int64) (int, error) { return d.WriteAt(p, off) })
}

// benchmarkRandom runs op at random offsets of each of randomDisks; in
// steady state it must not allocate.
func benchmarkRandom(b *testing.B, op func(d disk, p []byte, off int64) (int, error)) {
	offs := randomOffsets()
	buf := pattern(randIO)
	for _, d := range randomDisks(b) {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(randIO)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				off := offs[i%len(offs)]
				if _, err := op(d.disk, buf, off); err != nil {
					b.Fatal(fmt.Errorf("at %d: %w", off, err))
				}
				i++
			}
		})
	}
}
