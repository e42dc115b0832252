package vhd

import (
	"fmt"
	"path/filepath"
	"testing"

	"gotap.dev/libtap/drivers/drivertest"
	"gotap.dev/libtap/drivers/fileio"
	"gotap.dev/libtap/ring"
	"gotap.dev/libvhd"
)

const benchSize = 64 << 20

// benchImage is a dynamic image of benchSize bytes, every block
// allocated and full of data (not holes: O_DIRECT reads of holes never
// reach the device).
func benchImage(b testing.TB) string {
	p := filepath.Join(b.TempDir(), "disk.vhd")
	im, err := libvhd.Create(p, libvhd.CreateOptions{Type: libvhd.Dynamic, Size: benchSize})
	if err != nil {
		b.Fatal(err)
	}
	chunk := make([]byte, 1<<20)
	for i := range chunk {
		chunk[i] = byte(i)
	}
	for off := int64(0); off < benchSize; off += int64(len(chunk)) {
		if _, err := im.WriteAt(chunk, off); err != nil {
			b.Fatal(err)
		}
	}
	if err := im.Close(); err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkRequest: a 4 KiB random read or write into an allocated block
// through a ring slot, the scheduler and the vhd driver, per engine,
// O_DIRECT (the default) and buffered, one request at a time and 32 in
// flight.
func BenchmarkRequest(b *testing.B) {
	path := benchImage(b)
	for _, op := range []ring.Op{ring.Read, ring.Write} {
		for _, eng := range []string{fileio.EngineIOURing, fileio.EngineSyscalls} {
			for _, direct := range []bool{true, false} {
				for _, qd := range []int{1, 32} {
					mode := map[bool]string{true: "direct", false: "buffered"}[direct]
					b.Run(fmt.Sprintf("%v/%s/%s/qd%d", op, eng, mode, qd), func(b *testing.B) {
						if eng == fileio.EngineSyscalls {
							b.Setenv(fileio.EnvNoIOURing, "1")
						}
						benchRequests(b, path, op, !direct, qd)
					})
				}
			}
		}
	}
}

func benchRequests(b *testing.B, path string, op ring.Op, noDirect bool, qd int) {
	rg := ring.New(64, 64<<10)
	d, err := Open(path, Options{NoDirect: noDirect, Buffers: rg.Memory()})
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	drivertest.Requests(b, d, rg, drivertest.Load{Op: op, Size: benchSize, QD: qd, Batch: 1})
}

// TestRequestAllocatesNothing: through io_uring with O_DIRECT, a 4 KiB
// read or write into an allocated block allocates nothing, from the
// ring slot to its completion.
func TestRequestAllocatesNothing(t *testing.T) {
	path := benchImage(t)
	for _, op := range []ring.Op{ring.Read, ring.Write} {
		r := testing.Benchmark(func(b *testing.B) { benchRequests(b, path, op, false, 32) })
		if a := r.AllocsPerOp(); a != 0 {
			t.Errorf("%v: %d allocs/op; want 0", op, a)
		}
	}
}
