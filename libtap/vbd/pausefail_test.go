package vbd

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/slowopen"
)

// badClose fails its Close (after really closing), as a VHD whose footer
// cannot be written; it hides the ram driver's InMemory so that a pause
// closes it.
type badClose struct{ disk.Driver }

func (b badClose) Caps() disk.Caps {
	c := b.Driver.Caps()
	c.InMemory = false
	return c
}

func (b badClose) Close() error {
	b.Driver.Close()
	return syscall.EIO
}

// TestPauseThatCannotClose: the reply of a Pause matches the state it
// leaves. The image fails to close: reopened, the VBD goes on running and
// Pause fails; reopening fails too: Pause fails saying the VBD is paused
// and its resume failed, and the state says so.
func TestPauseThatCannotClose(t *testing.T) {
	for _, tc := range []struct {
		name       string
		reopenFail bool
		wantState  wire.State
	}{
		{"reopened", false, 0},
		{"not reopened", true, wire.Paused | wire.ResumeFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var opens atomic.Int32
			opts := testOptions()
			opts.OpenDriver = func(spec string, o drivers.Options) (disk.Driver, error) {
				if opens.Add(1) > 1 && tc.reopenFail {
					return nil, syscall.ENOENT
				}
				d, err := drivers.Open(spec, o)
				return badClose{d}, err
			}
			v, err := Open(0, "ram:1M", opts)
			if err != nil {
				t.Fatal(err)
			}
			defer v.Close(context.Background())
			err = v.Pause(context.Background())
			if !errors.Is(err, syscall.EIO) {
				t.Fatalf("Pause = %v; want the close's EIO", err)
			}
			if st := v.State(); st != tc.wantState {
				t.Errorf("state after the failed pause = %v; want %v", st, tc.wantState)
			}
			if tc.wantState == 0 {
				if r := mustComplete(t, submit(v, ring.Write, 0)); r.Err != nil {
					t.Errorf("write after the failed pause: %v", r.Err)
				}
			}
		})
	}
}

// TestResumeOpenTimesOut: a reopen that hangs fails the Resume with
// ETIMEDOUT after OpenTimeout, not retried; a second Resume meanwhile is
// refused (EBUSY), and the driver opening late is closed.
func TestResumeOpenTimesOut(t *testing.T) {
	release, closed := make(chan struct{}), make(chan struct{})
	var opens atomic.Int32
	opts := testOptions()
	opts.ReopenTries = 5
	opts.OpenTimeout = 50 * time.Millisecond
	opts.OpenDriver = func(spec string, o drivers.Options) (disk.Driver, error) {
		if opens.Add(1) == 1 {
			d, err := drivers.Open(spec, o)
			return badClose{d}, err
		}
		<-release
		d, err := drivers.Open(spec, o)
		return lateClose{d, closed}, err
	}
	v, err := Open(0, "ram:1M", opts)
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	ctx := context.Background()
	if err := v.Pause(ctx); err != nil && !errors.Is(err, syscall.EIO) {
		t.Fatal(err)
	}
	// badClose's close failed and the reopen hangs: the pause gave up
	// reopening; so does an explicit resume.
	start := time.Now()
	err = v.Resume(ctx, "")
	if !errors.Is(err, syscall.ETIMEDOUT) && !errors.Is(err, slowopen.ErrLate) {
		t.Fatalf("Resume behind a hung open = %v; want ETIMEDOUT or EBUSY", err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Resume took %v with a 50ms open timeout", took)
	}
	if n := opens.Load(); n != 2 {
		t.Errorf("%d opens; want 2 (the first, one hung reopen, no retry behind it)", n)
	}
	if st := v.State(); st&(wire.Paused|wire.ResumeFailed) != wire.Paused|wire.ResumeFailed {
		t.Errorf("state = %v; want paused|resume-failed", st)
	}
	close(release)
	select {
	case <-closed:
	case <-time.After(5 * time.Second):
		t.Fatal("the driver opened late was not closed")
	}
}

// lateClose tells closed when it is closed.
type lateClose struct {
	disk.Driver
	closed chan struct{}
}

func (l lateClose) Close() error {
	defer close(l.closed)
	return l.Driver.Close()
}
