package vbd

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers"
	"gotap.dev/libtap/ring"
)

// submit queues one request with its own completer, without waiting.
func submit(v *VBD, op ring.Op, off int64) chanCompleter {
	done := make(chanCompleter, 2) // room for a wrong second completion
	req, _ := v.Ring().Get(context.Background())
	req.Op, req.Offset, req.Length, req.Owner = op, off, 4096, done
	req.Data(4096)
	v.Submit(req)
	return done
}

// completion waits for the completion of a request: nil if none comes
// in 10 s.
func completion(done chanCompleter) *ring.Request {
	select {
	case r := <-done:
		return r
	case <-time.After(10 * time.Second):
		return nil
	}
}

// mustComplete is completion for the test's goroutine.
func mustComplete(t *testing.T, done chanCompleter) *ring.Request {
	t.Helper()
	r := completion(done)
	if r == nil {
		t.Fatal("request not completed in 10 s")
	}
	return r
}

// TestResumeUnderLoad pauses and resumes while requests keep coming: run
// with -race, requests checked against the capabilities Resume replaces
// must not race with it, and none may fail.
func TestResumeUnderLoad(t *testing.T) {
	v, err := Open(0, "ram:4M", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	stop := make(chan struct{})
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	lost := errors.New("request not completed in 10 s")
	for g := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				op := []ring.Op{ring.Write, ring.Read}[i%2]
				r := completion(submit(v, op, int64(g)<<20+int64(i%64)*4096))
				if r == nil {
					errs <- lost
					return
				}
				err := r.Err
				v.Ring().Put(r)
				if err != nil {
					errs <- err
					return
				}
			}
		})
	}
	ctx := context.Background()
	for i := range 50 {
		if err := v.Pause(ctx); err != nil {
			t.Fatalf("pause %d: %v", i, err)
		}
		if err := v.Resume(ctx, ""); err != nil {
			t.Fatalf("resume %d: %v", i, err)
		}
		time.Sleep(time.Millisecond)
	}
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("request failed across pause and resume: %v", err)
	}
}

// TestSubmitAfterClose: once Close has begun, requests complete at once
// with ENXIO, exactly once, whether the VBD was running or paused (its
// held requests fail too), and Extents answers ENXIO.
func TestSubmitAfterClose(t *testing.T) {
	for _, tc := range []struct {
		name   string
		paused bool
	}{
		{"running", false},
		{"paused", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, err := Open(0, "ram:1M", testOptions())
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			var held chanCompleter
			if tc.paused {
				if err := v.Pause(ctx); err != nil {
					t.Fatal(err)
				}
				held = submit(v, ring.Write, 0)
			}
			if err := v.Close(ctx); err != nil {
				t.Fatal(err)
			}
			if v.State() != wire.Closed {
				t.Errorf("state after Close = %v", v.State())
			}
			if held != nil {
				if r := mustComplete(t, held); !errors.Is(r.Err, syscall.ENXIO) {
					t.Errorf("request held while paused: err = %v; want ENXIO", r.Err)
				}
			}
			late := submit(v, ring.Read, 0)
			if r := mustComplete(t, late); !errors.Is(r.Err, syscall.ENXIO) {
				t.Errorf("request after Close: err = %v; want ENXIO", r.Err)
			}
			time.Sleep(50 * time.Millisecond)
			if len(late)+len(held) != 0 {
				t.Error("a request completed twice")
			}
			if r := mustComplete(t, submit(v, ring.BlockStatus, 0)); !errors.Is(r.Err, syscall.ENXIO) {
				t.Errorf("block status after Close: err = %v; want ENXIO", r.Err)
			}
		})
	}
}

// TestSubmitRacingClose: requests submitted while Close runs each
// complete exactly once, successfully or with ENXIO; none is lost in a
// stopped scheduler.
func TestSubmitRacingClose(t *testing.T) {
	for range 20 {
		v, err := Open(0, "ram:1M", testOptions())
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Go(func() {
				for {
					done := submit(v, ring.Write, int64(g)*4096)
					r := completion(done)
					if r == nil {
						t.Error("request not completed in 10 s")
						return
					}
					err := r.Err
					v.Ring().Put(r)
					switch {
					case errors.Is(err, syscall.ENXIO):
						time.Sleep(10 * time.Millisecond)
						if len(done) != 0 {
							t.Error("a request completed twice")
						}
						return
					case err != nil:
						t.Errorf("write before Close: %v", err)
						return
					}
				}
			})
		}
		time.Sleep(time.Millisecond)
		if err := v.Close(context.Background()); err != nil {
			t.Fatal(err)
		}
		wg.Wait()
	}
}

// TestPauseAndCloseHonourTheirDeadline: behind a read that hangs in the
// driver, Pause gives up at its deadline and the VBD keeps serving; Close
// gives up too, refuses new requests at once, and finishes closing in
// the background once the read completes.
func TestPauseAndCloseHonourTheirDeadline(t *testing.T) {
	entered, release := make(chan struct{}, 1), make(chan struct{})
	opts := testOptions()
	opts.OpenDriver = func(spec string, o drivers.Options) (disk.Driver, error) {
		d, err := drivers.Open(spec, o)
		return &blocking{Driver: d, entered: entered, release: release}, err
	}
	v, err := Open(0, "ram:1M", opts)
	if err != nil {
		t.Fatal(err)
	}
	read := submit(v, ring.Read, 0) // hangs until release
	<-entered

	const deadline = 100 * time.Millisecond
	for _, op := range []struct {
		name string
		do   func(context.Context) error
	}{
		{"pause", v.Pause},
		{"close", v.Close},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), deadline)
		start := time.Now()
		err := op.do(ctx)
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s behind a hung read: err = %v; want DeadlineExceeded", op.name, err)
		}
		if took := time.Since(start); took > deadline+time.Second {
			t.Errorf("%s took %v with a %v deadline", op.name, took, deadline)
		}
		if op.name == "pause" {
			if st := v.State(); st != 0 {
				t.Errorf("state after a pause that gave up = %v; want running", st)
			}
			if r := mustComplete(t, submit(v, ring.Write, 8192)); r.Err != nil {
				t.Errorf("write after a pause that gave up: %v", r.Err)
			}
		}
	}
	if r := mustComplete(t, submit(v, ring.Write, 8192)); !errors.Is(r.Err, syscall.ENXIO) {
		t.Errorf("write after Close gave up: err = %v; want ENXIO", r.Err)
	}
	close(release)
	if r := mustComplete(t, read); r.Err != nil {
		t.Errorf("the hung read, released: %v", r.Err)
	}
	if err := v.Close(context.Background()); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if v.State() != wire.Closed {
		t.Errorf("state after the second Close = %v", v.State())
	}
}
