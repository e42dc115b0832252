package vbd

import (
	"bytes"
	"context"
	"sync/atomic"
	"testing"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers"
	"gotap.dev/libtap/ring"
)

// countClose counts the closes of the drivers it wraps.
type countClose struct {
	disk.Driver
	closes *atomic.Int32
}

func (c countClose) Close() error {
	c.closes.Add(1)
	return c.Driver.Close()
}

// TestRAMSurvivesPause: a ram disk keeps its contents across pause and
// resume (its driver is kept, never closed), with the spec given again
// or not; resuming on another spec replaces it with a new disk and
// closes the old one; Close closes the kept one.
func TestRAMSurvivesPause(t *testing.T) {
	var opens, closes atomic.Int32
	opts := testOptions()
	opts.OpenDriver = func(spec string, o drivers.Options) (disk.Driver, error) {
		opens.Add(1)
		d, err := drivers.Open(spec, o)
		if err != nil {
			return nil, err
		}
		return countClose{d, &closes}, nil
	}
	v, err := Open(0, "ram:4M", opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	data := bytes.Repeat([]byte("kept across pause"), 241)[:4096]
	if r := do(t, v, ring.Write, 1<<20, data); r.Err != nil {
		t.Fatal(r.Err)
	}
	for i := range 10 {
		if err := v.Pause(ctx); err != nil {
			t.Fatalf("pause %d: %v", i, err)
		}
		spec := []string{"", "ram:4M"}[i%2]
		if err := v.Resume(ctx, spec); err != nil {
			t.Fatalf("resume %d (%q): %v", i, spec, err)
		}
		got := make([]byte, len(data))
		if r := do(t, v, ring.Read, 1<<20, got); r.Err != nil || !bytes.Equal(got, data) {
			t.Fatalf("after pause and resume %d: err %v, the data written before is gone", i, r.Err)
		}
	}
	if opens.Load() != 1 || closes.Load() != 0 {
		t.Errorf("10 pauses: %d opens, %d closes; want 1, 0 (the driver kept)", opens.Load(), closes.Load())
	}

	if err := v.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := v.Resume(ctx, "ram:4096K"); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(data))
	if r := do(t, v, ring.Read, 1<<20, got); r.Err != nil || !bytes.Equal(got, make([]byte, len(data))) {
		t.Errorf("resumed on another ram spec: err %v; want a new, zeroed disk", r.Err)
	}
	if closes.Load() != 1 {
		t.Errorf("resumed on another spec: %d closes; want the kept driver closed", closes.Load())
	}

	if err := v.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := v.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if closes.Load() != 2 {
		t.Errorf("closed while paused: %d closes; want the kept driver closed too (2)", closes.Load())
	}
}
