package libvhd

import (
	"errors"
	"math/rand/v2"
	"sync"
	"testing"
)

// TestCloseWaitsForUnlockedIO: reads and writes move their data without
// the image's lock (io.go); a Close meanwhile waits for them, and each
// either completes or fails with ErrClosed, never on a closed file.
func TestCloseWaitsForUnlockedIO(t *testing.T) {
	for range 20 {
		f := makeChain(t, OSFS{}, t.TempDir(), 1, false, 0)
		im, err := Open(f.paths[1], OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				rng := rand.New(rand.NewPCG(uint64(w), 7))
				buf := make([]byte, 4096)
				<-start
				for {
					off := rng.Int64N(im.Size()/4096) * 4096
					var err error
					if w%2 == 0 {
						_, err = im.WriteAt(buf, off)
					} else {
						_, err = im.ReadAt(buf, off)
					}
					if errors.Is(err, ErrClosed) {
						return
					}
					if err != nil {
						t.Errorf("worker %d: %v", w, err)
						return
					}
				}
			}()
		}
		close(start)
		if err := im.Close(); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	}
}
