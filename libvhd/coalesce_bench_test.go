package libvhd

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
)

// BenchmarkCoalesce coalesces a child holding 256 MiB into an empty
// dynamic parent: written sequentially, or as scattered 64 KiB writes over
// a 1 GiB disk. Each run starts from the empty parent again. As the other
// benchmarks, run it with $TMPDIR on the disk to measure
// (scripts/bench-coalesce.sh compares the command with cp and qemu-img).
func BenchmarkCoalesce(b *testing.B) {
	const held, chunk = 256 << 20, 64 << 10
	for _, bc := range []struct {
		name string
		disk int64
		offs func() []int64
	}{
		{"sequential", held, func() []int64 {
			var o []int64
			for off := int64(0); off < held; off += chunk {
				o = append(o, off)
			}
			return o
		}},
		{"scattered-64k", 4 * held, func() []int64 {
			rng := rand.New(rand.NewPCG(1, 2))
			perm := rng.Perm(4 * held / chunk)[:held/chunk]
			o := make([]int64, len(perm))
			for i, p := range perm {
				o[i] = int64(p) * chunk
			}
			return o
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			dir := b.TempDir()
			base, child := filepath.Join(dir, "base.vhd"), filepath.Join(dir, "child.vhd")
			im, err := Create(base, CreateOptions{Type: Dynamic, Size: bc.disk})
			if err != nil {
				b.Fatal(err)
			}
			im.Close()
			empty, err := os.ReadFile(base)
			if err != nil {
				b.Fatal(err)
			}
			if im, err = Create(child, CreateOptions{Parent: base}); err != nil {
				b.Fatal(err)
			}
			buf := pattern(chunk)
			for _, off := range bc.offs() {
				if _, err := im.WriteAt(buf, off); err != nil {
					b.Fatal(err)
				}
			}
			if err := im.Close(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(held)
			b.ResetTimer()
			for range b.N {
				b.StopTimer()
				if err := os.WriteFile(base, empty, 0o644); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				if _, err := Coalesce(child, CoalesceOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
