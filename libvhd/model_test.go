package libvhd

import (
	"bytes"
	"math/rand/v2"
	"path/filepath"
	"testing"
)

// randomWrites writes n random extents (aligned to align bytes, length up
// to maxLen) into im and the same bytes into model.
func randomWrites(t *testing.T, rng *rand.Rand, im *Image, model []byte, n, align, maxLen int) {
	t.Helper()
	size := len(model)
	for range n {
		off := rng.IntN(size/align) * align
		l := min((1+rng.IntN(maxLen/align))*align, size-off)
		buf := make([]byte, l)
		for i := range buf {
			buf[i] = byte(rng.Uint32())
		}
		if _, err := im.WriteAt(buf, int64(off)); err != nil {
			t.Fatalf("WriteAt(%d, %d): %v", off, l, err)
		}
		copy(model[off:], buf)
		if rng.IntN(8) == 0 {
			if err := im.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func mustEqualDisk(t *testing.T, im *Image, model []byte) {
	t.Helper()
	got := make([]byte, len(model))
	if _, err := im.ReadAt(got, 0); err != nil {
		t.Fatalf("ReadAt: %v", err)
	}
	if !bytes.Equal(got, model) {
		for i := range got {
			if got[i] != model[i] {
				t.Fatalf("%s: first difference at byte %d: got %#x, want %#x", im.Path(), i, got[i], model[i])
			}
		}
	}
}

func TestRandomWritesThroughChain(t *testing.T) {
	for _, align := range []int{1, 512, 4096} {
		dir := t.TempDir()
		const size = 20 << 20
		rng := rand.New(rand.NewPCG(uint64(align), 1))
		model := make([]byte, size)
		base, err := Create(filepath.Join(dir, "base.vhd"), CreateOptions{Type: Dynamic, Size: size})
		if err != nil {
			t.Fatal(err)
		}
		randomWrites(t, rng, base, model, 50, align, 3<<20)
		mustEqualDisk(t, base, model)
		if err := base.Close(); err != nil {
			t.Fatal(err)
		}
		parent := filepath.Join(dir, "base.vhd")
		var top *Image
		for i := range 3 {
			child := filepath.Join(dir, "child"+string(rune('0'+i))+".vhd")
			top, err = Create(child, CreateOptions{Parent: parent})
			if err != nil {
				t.Fatal(err)
			}
			randomWrites(t, rng, top, model, 40, align, 1<<20)
			mustEqualDisk(t, top, model)
			if err := top.Close(); err != nil {
				t.Fatal(err)
			}
			parent = child
		}
		top, err = Open(parent, OpenOptions{ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		if top.Depth() != 4 {
			t.Errorf("Depth() = %d; want 4", top.Depth())
		}
		mustEqualDisk(t, top, model)
		top.Close()
	}
}
