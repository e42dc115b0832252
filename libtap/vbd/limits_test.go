package vbd

import (
	"context"
	"errors"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/ring"
)

// TestLimitsOutlastResume: a limit changed live stays across pause and
// resume of the same chain; a resume on a chain naming other limits
// takes those.
func TestLimitsOutlastResume(t *testing.T) {
	v, err := Open(0, "valve:rbps=1M:ram:4M", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	ctx := context.Background()
	if _, err := v.ChangeLimits("rbps=2M"); err != nil {
		t.Fatal(err)
	}
	resume := func(spec string) int64 {
		t.Helper()
		if err := v.Pause(ctx); err != nil {
			t.Fatal(err)
		}
		if err := v.Resume(ctx, spec); err != nil {
			t.Fatal(err)
		}
		return v.Info().Valve.ReadBPS
	}
	if got := resume(""); got != 2<<20 {
		t.Errorf("rbps after pause and resume = %d; want the live change, %d", got, 2<<20)
	}
	if got := resume("valve:rbps=1M:ram:4M"); got != 2<<20 {
		t.Errorf("rbps after a resume naming the same spec = %d; want the live change, %d", got, 2<<20)
	}
	if got := resume("valve:rbps=3M:ram:4M"); got != 3<<20 {
		t.Errorf("rbps after a resume on a spec naming 3M = %d; want %d", got, 3<<20)
	}
}

// stuckRead opens a VBD whose valve lets a byte a second through and
// submits a 4 KiB read: it waits for hours unless let go. The request
// comes back on the channel returned.
func stuckRead(t *testing.T) (*VBD, chanCompleter) {
	t.Helper()
	v, err := Open(0, "valve:rbps=1,burst=1ms:ram:4M", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chanCompleter, 1)
	req, _ := v.Ring().Get(context.Background())
	req.Op, req.Offset, req.Length, req.Owner = ring.Read, 0, 4096, done
	req.Data(4096)
	v.Submit(req)
	select {
	case <-done:
		t.Fatal("a 4 KiB read went through a valve of 1 byte a second at once")
	case <-time.After(50 * time.Millisecond):
	}
	return v, done
}

// TestPauseAndCloseNeverWaitForTokens: a request waiting for tokens goes
// at once when a pause or a close begins, and completes without error.
func TestPauseAndCloseNeverWaitForTokens(t *testing.T) {
	for _, end := range []string{"pause", "close"} {
		t.Run(end, func(t *testing.T) {
			v, done := stuckRead(t)
			defer v.Close(context.Background())
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			var err error
			if end == "pause" {
				err = v.Pause(ctx)
			} else {
				err = v.Close(ctx)
			}
			if err != nil {
				t.Fatalf("%s with a request waiting for tokens: %v", end, err)
			}
			if r := <-done; r.Err != nil {
				t.Errorf("the waiting read: %v; want it done", r.Err)
			}
		})
	}
}

func TestChangeLimitsNeedsAValve(t *testing.T) {
	v, err := Open(0, "ram:4M", testOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close(context.Background())
	if _, err := v.ChangeLimits("rbps=1"); !errors.Is(err, syscall.EOPNOTSUPP) {
		t.Errorf("ChangeLimits on ram:4M = %v; want EOPNOTSUPP", err)
	}
	if info := v.Info(); info.Valve != nil {
		t.Errorf("Info().Valve = %+v for a chain without a valve; want none", info.Valve)
	}
}
