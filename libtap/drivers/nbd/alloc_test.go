package nbd_test

import (
	"testing"

	"gotap.dev/libtap/disk"
)

// TestRequestsAllocateNothing: the data path, reply checks included,
// costs no allocation per request (the scripted server answers from a
// reused buffer, so that any allocation counted is the driver's).
func TestRequestsAllocateNothing(t *testing.T) {
	for _, structured := range []bool{false, true} {
		d := dialScripted(t, structured, honest(structured))
		buf := make([]byte, 64<<10)
		ext := make([]disk.Extent, 0, 4)
		for name, op := range map[string]func() error{
			"read":  func() error { return d.ReadV([][]byte{buf}, 4096) },
			"write": func() error { return d.WriteV([][]byte{buf}, 4096, false) },
			"flush": d.Flush,
			"extents": func() error {
				_, err := d.Extents(ext[:0], 0, 1<<20)
				return err
			},
		} {
			if name == "extents" && !structured {
				continue
			}
			if err := op(); err != nil {
				t.Fatalf("structured=%v %s: %v", structured, name, err)
			}
			if n := testing.AllocsPerRun(100, func() { op() }); n != 0 {
				t.Errorf("structured=%v %s: %v allocations per request; want 0", structured, name, n)
			}
		}
	}
}
