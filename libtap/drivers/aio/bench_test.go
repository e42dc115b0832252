package aio

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"gotap.dev/libtap/drivers/drivertest"
	"gotap.dev/libtap/drivers/fileio"
	"gotap.dev/libtap/ring"
)

const benchSize = 64 << 20

// benchFile is a file of benchSize bytes of data (not holes: O_DIRECT
// reads of holes never reach the device).
func benchFile(b testing.TB) string {
	p := filepath.Join(b.TempDir(), "disk.raw")
	f, err := os.Create(p)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	for range benchSize / len(chunk) {
		if _, err := f.Write(chunk); err != nil {
			b.Fatal(err)
		}
	}
	return p
}

// BenchmarkRequest: a 4 KiB random read through a ring slot, the
// scheduler and the aio driver, per engine, O_DIRECT (the default) and
// buffered, one request at a time and 32 in flight, those submitted one
// by one or in batches of 8 (as an NBD connection submits what one
// socket read brought).
func BenchmarkRequest(b *testing.B) {
	path := benchFile(b)
	for _, eng := range []string{fileio.EngineIOURing, fileio.EngineSyscalls} {
		for _, direct := range []bool{true, false} {
			for _, load := range []struct{ qd, batch int }{{1, 1}, {32, 1}, {32, 8}} {
				name := eng + "/direct"
				if !direct {
					name = eng + "/buffered"
				}
				b.Run(fmt.Sprintf("%s/qd%d/batch%d", name, load.qd, load.batch), func(b *testing.B) {
					if eng == fileio.EngineSyscalls {
						b.Setenv(fileio.EnvNoIOURing, "1")
					}
					benchRequests(b, path, !direct, load.qd, load.batch)
				})
			}
		}
	}
}

func benchRequests(b *testing.B, path string, noDirect bool, qd, batch int) {
	rg := ring.New(64, 64<<10)
	d, err := Open(path, Options{NoDirect: noDirect, Buffers: rg.Memory()})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	drivertest.Requests(b, d, rg, drivertest.Load{Op: ring.Read, Size: benchSize, QD: qd, Batch: batch})
}

// TestRequestAllocatesNothing: through io_uring, a request allocates
// nothing, from the ring slot to its completion, submitted alone or in
// a batch.
func TestRequestAllocatesNothing(t *testing.T) {
	path := benchFile(t)
	for _, batch := range []int{1, 8} {
		r := testing.Benchmark(func(b *testing.B) { benchRequests(b, path, false, 32, batch) })
		if a := r.AllocsPerOp(); a != 0 {
			t.Errorf("batches of %d: %d allocs/op; want 0", batch, a)
		}
	}
}
