package nbd_test

import (
	"sync"
	"sync/atomic"
	"testing"

	"gotap.dev/libtap/disk"
)

// TestRequestsAllocateNothing: the data path, reply checks included,
// costs no allocation per request (the scripted server answers from a
// reused buffer, so that any allocation counted is the driver's), alone
// or with other requests in flight beside it, waited for or started.
func TestRequestsAllocateNothing(t *testing.T) {
	for _, structured := range []bool{false, true} {
		for _, busy := range []int{0, 7} {
			d := dialScripted(t, structured, honest(structured))
			buf := make([]byte, 64<<10)
			ext := make([]disk.Extent, 0, 4)
			started := make(chan error, 1)
			done := func(err error) { started <- err }
			for name, op := range map[string]func() error{
				"read":  func() error { return d.ReadV([][]byte{buf}, 4096) },
				"write": func() error { return d.WriteV([][]byte{buf}, 4096, false) },
				"flush": d.Flush,
				"extents": func() error {
					_, err := d.Extents(ext[:0], 0, 1<<20)
					return err
				},
				"started read": func() error {
					if !d.StartV(false, [][]byte{buf}, 4096, false, false, done) {
						t.Fatal("StartV refused a read")
					}
					return <-started
				},
			} {
				if name == "extents" && !structured {
					continue
				}
				// Others keep requests in flight meanwhile; they allocate
				// nothing either, or it counts.
				var stop atomic.Bool
				var wg sync.WaitGroup
				for range busy {
					wg.Go(func() {
						b := make([]byte, 4096)
						for !stop.Load() {
							d.ReadV([][]byte{b}, 0)
						}
					})
				}
				if err := op(); err != nil {
					t.Fatalf("structured=%v %s: %v", structured, name, err)
				}
				n := testing.AllocsPerRun(100, func() { op() })
				stop.Store(true)
				wg.Wait()
				if n != 0 {
					t.Errorf("structured=%v, %d others in flight, %s: %v allocations per request; want 0", structured, busy, name, n)
				}
			}
		}
	}
}
