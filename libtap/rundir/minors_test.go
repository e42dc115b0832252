package rundir

import (
	"errors"
	"os"
	"slices"
	"sync"
	"syscall"
	"testing"
)

func TestAllocateLowestFree(t *testing.T) {
	d := Dir(t.TempDir())
	for want := range 3 {
		if got, err := d.Allocate(-1); err != nil || got != want {
			t.Fatalf("Allocate(-1) = %d, %v; want %d, nil", got, err, want)
		}
	}
	if err := d.Free(1); err != nil {
		t.Fatal(err)
	}
	if got, err := d.Allocate(-1); err != nil || got != 1 {
		t.Errorf("Allocate(-1) after Free(1) = %d, %v; want 1, nil", got, err)
	}
	if _, err := d.Allocate(2); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("Allocate(2) twice: err = %v; want EEXIST", err)
	}
	if _, err := d.Allocate(MaxMinors); !errors.Is(err, syscall.EINVAL) {
		t.Errorf("Allocate(MaxMinors): err = %v; want EINVAL", err)
	}
	if err := d.Free(7); !errors.Is(err, syscall.ENOENT) {
		t.Errorf("Free of an unallocated minor: err = %v; want ENOENT", err)
	}
}

func TestAllocateConcurrent(t *testing.T) {
	d := Dir(t.TempDir())
	const n = 50
	got := make([]int, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m, err := d.Allocate(-1)
			if err != nil {
				t.Error(err)
			}
			got[i] = m
		})
	}
	wg.Wait()
	slices.Sort(got)
	for i, m := range got {
		if m != i {
			t.Fatalf("concurrent Allocate gave %v; want 0 to %d once each", got, n-1)
		}
	}
}

// A held marker is busy for Free and listed as held; once released (as
// when its tapdisk dies) it is an allocated minor with no tapdisk.
func TestHold(t *testing.T) {
	d := Dir(t.TempDir())
	m, _ := d.Allocate(-1)
	h, err := d.Hold(m)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Hold(m); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("second Hold: err = %v; want EBUSY", err)
	}
	if err := d.Free(m); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("Free of a held minor: err = %v; want EBUSY", err)
	}
	if got, _ := d.Minors(); !slices.Equal(got, []Minor{{m, true, os.Getpid()}}) {
		t.Errorf("Minors() = %v; want [{%d true %d}]", got, m, os.Getpid())
	}
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Minors(); !slices.Equal(got, []Minor{{m, false, 0}}) {
		t.Errorf("Minors() after Release = %v; want [{%d false 0}] (allocated minors stay, no longer named ours)", got, m)
	}
	if err := d.Free(m); err != nil {
		t.Errorf("Free after Release: %v", err)
	}
}

// A tapdisk serving a minor nobody allocated creates the marker, and
// removes it when done.
func TestHoldUnallocated(t *testing.T) {
	d := Dir(t.TempDir())
	h, err := d.Hold(5)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := d.Allocate(-1); got != 0 {
		t.Errorf("Allocate(-1) = %d; want 0", got)
	}
	if _, err := d.Allocate(5); !errors.Is(err, syscall.EEXIST) {
		t.Errorf("Allocate of a held minor: err = %v; want EEXIST", err)
	}
	if err := h.Release(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(d.Marker(5)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("marker after Release: %v; want it removed", err)
	}
}
