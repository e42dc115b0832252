package libvhd

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"

	"gotap.dev/libvhd/imagelock"
)

// liveChain opens c3 of a 3-deep chain for writing, as a tapdisk does:
// layers 0 c3, 1 c2, 2 c1, 3 base.
func liveChain(t *testing.T) (*Image, chainFixture) {
	t.Helper()
	f := makeChain(t, OSFS{}, t.TempDir(), 3, false, 0)
	im, err := Open(f.paths[3], OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { im.Close() })
	return im, f
}

// serve writes and reads im at random from several goroutines, each in
// its own stripe of the disk checked against its part of model, until
// stop is closed.
func serve(t *testing.T, im *Image, model []byte, stop <-chan struct{}) (wait func() int64) {
	const workers = 4
	stripe := len(model) / workers
	var wg sync.WaitGroup
	var ops atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), 99))
			own := model[w*stripe : (w+1)*stripe]
			for n := 0; ; n++ {
				select {
				case <-stop:
					if n > 20 {
						return
					}
				default:
				}
				off := rng.IntN(stripe-64<<10) &^ 511
				l := 512 * (1 + rng.IntN(128))
				buf := make([]byte, l)
				if rng.IntN(2) == 0 {
					for i := range buf {
						buf[i] = byte(rng.Uint32())
					}
					if _, err := im.WriteAt(buf, int64(w*stripe+off)); err != nil {
						t.Errorf("WriteAt: %v", err)
						return
					}
					copy(own[off:], buf)
				} else {
					if _, err := im.ReadAt(buf, int64(w*stripe+off)); err != nil {
						t.Errorf("ReadAt: %v", err)
						return
					}
					for i := range buf {
						if buf[i] != own[off+i] {
							t.Errorf("read during commit: byte %d differs", w*stripe+off+i)
							return
						}
					}
				}
				ops.Add(1)
			}
		}()
	}
	return func() int64 { wg.Wait(); return ops.Load() }
}

// Layers 1 and 2 merged into the base while the leaf serves: no read ever
// differs from the model, the base then reads as layer 1 did, and it is
// back to read-only and shared.
func TestCommitWhileServing(t *testing.T) {
	im, f := liveChain(t)
	model := append([]byte(nil), f.views[3]...)
	stop := make(chan struct{})
	wait := serve(t, im, model, stop)
	want := heldSectors(t, OSFS{}, f.paths[2], f.paths[1])
	res, err := im.Commit(context.Background(), 1, 3, CoalesceOptions{})
	close(stop)
	ops := wait()
	if err != nil {
		t.Fatalf("Commit: %v", err)
	}
	t.Logf("%d requests served during the commit", ops)
	if res.Sectors != want || res.Target != f.paths[0] {
		t.Errorf("Commit = %d sectors into %s; want %d into %s", res.Sectors, res.Target, want, f.paths[0])
	}
	mustEqualDisk(t, im, model)
	mustEqualBytes(t, "base", readImage(t, OSFS{}, f.paths[0]), f.views[2])
	if w, err := Open(f.paths[0], OpenOptions{}); err == nil {
		w.Close()
		t.Error("the base opens for writing after the commit: its shared lock was not taken back")
	}
	r, err := Open(f.paths[0], OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatalf("a reader of the base after the commit: %v", err)
	}
	r.Close()
	checkValid(t, OSFS{}, f.paths[0])
}

// A cancelled commit stops cleanly; a new one finishes the work.
func TestCommitCancel(t *testing.T) {
	im, f := liveChain(t)
	ctx, cancel := context.WithCancel(context.Background())
	blocks := 0
	opts := CoalesceOptions{Progress: func(done, total int64) {
		if blocks++; blocks == 2 {
			cancel()
		}
	}}
	if _, err := im.Commit(ctx, 1, 3, opts); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled Commit = %v; want context.Canceled", err)
	}
	if blocks != 2 {
		t.Errorf("%d blocks copied after the cancel; want it to stop at once", blocks-2)
	}
	mustEqualDisk(t, im, f.views[3])
	checkValid(t, OSFS{}, f.paths[0])
	if _, err := im.Commit(context.Background(), 1, 3, CoalesceOptions{}); err != nil {
		t.Fatal(err)
	}
	mustEqualBytes(t, "base", readImage(t, OSFS{}, f.paths[0]), f.views[2])
}

// A base another process reads (a sibling chain) is refused: the
// commit's chain keeps it shared and reading.
func TestCommitBaseInUse(t *testing.T) {
	im, f := liveChain(t)
	sibling, err := Open(f.paths[0], OpenOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sibling.Close()
	if _, err := im.Commit(context.Background(), 1, 3, CoalesceOptions{}); !errors.Is(err, imagelock.ErrLocked) {
		t.Fatalf("Commit into a base a sibling reads = %v; want ErrLocked", err)
	}
	sibling.Close()
	if w, err := Open(f.paths[0], OpenOptions{}); err == nil {
		w.Close()
		t.Error("after a refused commit the base opens for writing: its shared lock was lost")
	}
	mustEqualDisk(t, im, f.views[3])
}

func TestCommitRange(t *testing.T) {
	im, _ := liveChain(t)
	for _, tb := range [][2]int{{0, 1}, {1, 1}, {2, 1}, {1, 4}, {-1, 2}} {
		if _, err := im.Commit(context.Background(), tb[0], tb[1], CoalesceOptions{}); !errors.Is(err, ErrOutOfRange) {
			t.Errorf("Commit(%d, %d) = %v; want ErrOutOfRange", tb[0], tb[1], err)
		}
	}
}

// A raw base is committed into live as well.
func TestCommitRawBase(t *testing.T) {
	dir := t.TempDir()
	f := makeChain(t, OSFS{}, dir, 2, true, 0)
	im, err := Open(f.paths[2], OpenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer im.Close()
	if _, err := im.Commit(context.Background(), 1, 2, CoalesceOptions{}); err != nil {
		t.Fatal(err)
	}
	mustEqualDisk(t, im, f.views[2])
	got := readImage(t, OSFS{}, filepath.Join(dir, "c1.vhd"))
	mustEqualBytes(t, "c1", got, f.views[1])
}
