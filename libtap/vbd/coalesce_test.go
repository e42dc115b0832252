package vbd

import (
	"context"
	"errors"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers"
	"gotap.dev/libtap/filter/delay"
	"gotap.dev/libtap/ring"
)

// committer is a driver that can merge layers: its Commit blocks until
// release is closed (or its context ends), and its Relink records
// whether the driver was closed by then.
type committer struct {
	disk.Driver
	release  chan struct{}
	closed   *atomic.Bool
	relinked *atomic.Int32
	started  chan struct{}
}

func (c *committer) Close() error {
	c.closed.Store(true)
	return c.Driver.Close()
}

func (c *committer) Commit(ctx context.Context, top, base int, progress func(done, total int64)) (disk.Commit, error) {
	close(c.started)
	progress(1, 2)
	select {
	case <-c.release:
	case <-ctx.Done():
		return disk.Commit{}, ctx.Err()
	}
	return disk.Commit{Sectors: 8, Merged: []string{"mid.vhd"}, Relink: func() error {
		if !c.closed.Load() {
			return errors.New("relinked with the chain open")
		}
		c.relinked.Add(1)
		return nil
	}}, nil
}

// openCommitter opens a VBD whose every opened chain is a committer
// under a filter layer; the returned value is the first chain's.
func openCommitter(t *testing.T) (*VBD, *committer) {
	t.Helper()
	first := &committer{release: make(chan struct{}), closed: new(atomic.Bool), relinked: new(atomic.Int32), started: make(chan struct{})}
	opts := testOptions()
	opens := 0
	opts.OpenDriver = func(spec string, o drivers.Options) (disk.Driver, error) {
		d, err := drivers.Open(spec, o)
		if err != nil {
			return nil, err
		}
		c := first
		if opens++; opens > 1 {
			c = &committer{release: make(chan struct{}), closed: new(atomic.Bool), relinked: first.relinked, started: make(chan struct{})}
		}
		c.Driver = d
		return delay.New(c, delay.Config{}), nil
	}
	v, err := Open(0, "aio:"+rawFile(t, 1<<20), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { v.Close(context.Background()) })
	return v, first
}

// TestCoalesceRelinksInOnePause: the copy runs while requests are served,
// the relink happens with the chain closed, and the VBD serves again
// after; stats show the progress meanwhile.
func TestCoalesceRelinksInOnePause(t *testing.T) {
	v, c := openCommitter(t)
	type result struct {
		merged []string
		paused time.Duration
		err    error
	}
	done := make(chan result, 1)
	go func() {
		r, err := v.Coalesce(context.Background(), 1, 0)
		done <- result{r.Merged, r.Paused, err}
	}()
	<-c.started
	if r := do(t, v, ring.Write, 0, make([]byte, 4096)); r.Err != nil {
		t.Errorf("write during the copy: %v", r.Err)
	}
	if p := v.Info().Coalescing; p == nil || p.Done != 1 || p.Total != 2 {
		t.Errorf("stats during the copy: coalescing = %+v; want 1 of 2", p)
	}
	if _, err := v.Coalesce(context.Background(), 1, 0); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("a second coalesce: %v; want EBUSY", err)
	}
	close(c.release)
	r := <-done
	if r.err != nil || len(r.merged) != 1 || r.paused <= 0 {
		t.Fatalf("Coalesce = %+v", r)
	}
	if c.relinked.Load() != 1 {
		t.Errorf("relinked %d times; want once", c.relinked.Load())
	}
	if st := v.State(); st != 0 || v.Info().Coalescing != nil {
		t.Errorf("after: state %v, coalescing %+v", st, v.Info().Coalescing)
	}
	if r := do(t, v, ring.Read, 0, make([]byte, 4096)); r.Err != nil {
		t.Errorf("read after: %v", r.Err)
	}
}

// TestPauseInterruptsCoalesce: a pause does not wait for a copy that may
// take minutes; the coalesce reports the interruption and relinks
// nothing.
func TestPauseInterruptsCoalesce(t *testing.T) {
	v, c := openCommitter(t)
	done := make(chan error, 1)
	go func() {
		_, err := v.Coalesce(context.Background(), 1, 0)
		done <- err
	}()
	<-c.started
	if err := v.Pause(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, ErrInterrupted) {
		t.Errorf("Coalesce = %v; want ErrInterrupted", err)
	}
	if c.relinked.Load() != 0 {
		t.Error("an interrupted coalesce relinked the chain")
	}
	if _, err := v.Coalesce(context.Background(), 1, 0); !errors.Is(err, syscall.EBUSY) {
		t.Errorf("coalesce while paused: %v; want EBUSY", err)
	}
}

func TestCoalesceNeedsACommitter(t *testing.T) {
	v, err := Open(0, "ram:1M", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	if _, err := v.Coalesce(context.Background(), 1, 0); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Errorf("coalesce of a ram disk: %v; want EOPNOTSUPP", err)
	}
}
