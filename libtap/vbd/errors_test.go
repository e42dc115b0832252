package vbd

import (
	"context"
	"fmt"
	"testing"

	"gotap.dev/libtap/ring"
)

// TestIOErrorsInRecentErrors: failed requests land in recent_errors,
// the latest keepErrors of them, oldest first, each with its operation,
// range and cause.
func TestIOErrorsInRecentErrors(t *testing.T) {
	v, err := Open(0, "error:ops=read+flush:ram:4M", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	if r := do(t, v, ring.Write, 0, make([]byte, 4096)); r.Err != nil {
		t.Fatalf("write through an error filter failing reads only: %v", r.Err)
	}
	const failures = keepErrors + 3
	for i := range failures {
		v.Ring().Put(do(t, v, ring.Read, int64(i)*4096, make([]byte, 4096)))
	}
	v.Ring().Put(do(t, v, ring.Flush, 0, nil))
	errs := v.Info().Errors
	if len(errs) != keepErrors {
		t.Fatalf("recent_errors holds %d; want the last %d", len(errs), keepErrors)
	}
	for i, e := range errs[:keepErrors-1] {
		off := (failures - keepErrors + 1 + i) * 4096
		if want := fmt.Sprintf("read of 4096 bytes at %d: injected by the error filter: input/output error", off); e.Message != want {
			t.Errorf("recent_errors[%d] = %q; want %q", i, e.Message, want)
		}
	}
	if got, want := errs[keepErrors-1].Message, "flush: injected by the error filter: input/output error"; got != want {
		t.Errorf("last recent error = %q; want %q", got, want)
	}
	if n := v.Counters().Errors.Load(); n != failures+1 {
		t.Errorf("errors counted = %d; want %d", n, failures+1)
	}
}
