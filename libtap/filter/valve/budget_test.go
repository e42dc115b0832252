package valve

import (
	"testing"
	"time"

	"gotap.dev/libtap/stats"
)

// change changes b's limits by options, as tap-ctl rate does.
func change(t *testing.T, b *Budget, options string) stats.Limits {
	t.Helper()
	l, err := b.Change(func(l stats.Limits) (stats.Limits, error) { return ParseLimits(options, l) })
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// stuck starts a read of 1 MiB on a budget allowing 1 byte a second:
// it waits for days unless something lets it go. done is closed when it
// returns.
func stuck(t *testing.T) (b *Budget, done chan struct{}) {
	t.Helper()
	b = NewBudget()
	change(t, b, "rbps=1,burst=1ms")
	done = make(chan struct{})
	go func() {
		b.wait(&b.read, 1<<20, 1)
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("a 1 MiB read went at once at 1 byte a second")
	case <-time.After(50 * time.Millisecond):
	}
	return b, done
}

// waitDone fails unless done closes soon.
func waitDone(t *testing.T, done chan struct{}, what string) {
	t.Helper()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatalf("the waiting read still waits 5 s after %s", what)
	}
}

func TestBypassReleasesWaiters(t *testing.T) {
	b, done := stuck(t)
	b.Bypass()
	waitDone(t, done, "Bypass")
	b.wait(&b.read, 1<<20, 1) // no wait while bypassed either
	if info := b.Info(); info.ReadWaits != 1 || info.ReadWaitS <= 0 {
		t.Errorf("Info() = %+v; want one read that waited", info)
	}
}

func TestLiveChangeReleasesWaiters(t *testing.T) {
	b, done := stuck(t)
	change(t, b, "rbps=1G")
	waitDone(t, done, "the limit rose to 1 GiB/s")
	if info := b.Info(); info.WriteWaits != 0 {
		t.Errorf("Info() = %+v; want no write counted", info)
	}
}

// TestAdopt: a reopen naming the limits of the last open keeps what was
// changed live; naming others sets them.
func TestAdopt(t *testing.T) {
	b := NewBudget()
	spec := stats.Limits{ReadBPS: 20 << 20, BurstMS: 1000}
	b.adopt(spec)
	live := change(t, b, "rbps=40M")
	b.adopt(spec)
	if got := b.Limits(); got != live {
		t.Errorf("after a reopen with the same spec: %+v; want the live change %+v kept", got, live)
	}
	other := stats.Limits{WriteIOPS: 100, BurstMS: 500}
	b.adopt(other)
	if got := b.Limits(); got != other {
		t.Errorf("after a reopen with another spec: %+v; want %+v", got, other)
	}
}

func TestChangeRefusesBadLimits(t *testing.T) {
	b := NewBudget()
	for _, fn := range []func(stats.Limits) (stats.Limits, error){
		func(l stats.Limits) (stats.Limits, error) { l.ReadBPS = -1; return l, nil },
		func(l stats.Limits) (stats.Limits, error) { l.BurstMS = 0; return l, nil },
		func(l stats.Limits) (stats.Limits, error) { return ParseLimits("rbps=fast", l) },
	} {
		if _, err := b.Change(fn); err == nil {
			t.Error("Change accepted a negative limit, a zero burst or limits that do not parse")
		}
	}
	if got := b.Limits(); got != (stats.Limits{BurstMS: 1000}) {
		t.Errorf("limits after refused changes = %+v; want none", got)
	}
}

func TestWaitAllocatesNothing(t *testing.T) {
	b := NewBudget()
	if a := testing.AllocsPerRun(1000, func() { b.wait(&b.read, 4096, 1) }); a != 0 {
		t.Errorf("no limit: %v allocs per request; want 0", a)
	}
	// 100,000 reads a second with a burst of 10: most of these wait.
	change(t, b, "riops=100000,burst=1ms")
	if a := testing.AllocsPerRun(1000, func() { b.wait(&b.read, 4096, 1) }); a != 0 {
		t.Errorf("limited: %v allocs per request; want 0", a)
	}
	if b.Info().ReadWaits == 0 {
		t.Error("no read waited: the limited case was not measured")
	}
}

func TestParseLimits(t *testing.T) {
	base := stats.Limits{ReadBPS: 1, WriteBPS: 2, ReadIOPS: 3, WriteIOPS: 4, BurstMS: 5}
	tests := []struct {
		in   string
		want stats.Limits
		bad  bool
	}{
		{in: "", want: base},
		{in: "rbps=20M,wiops=0", want: stats.Limits{ReadBPS: 20 << 20, WriteBPS: 2, ReadIOPS: 3, BurstMS: 5}},
		{in: "wbps=1G,riops=500,burst=2s", want: stats.Limits{ReadBPS: 1, WriteBPS: 1 << 30, ReadIOPS: 500, WriteIOPS: 4, BurstMS: 2000}},
		{in: "burst=0s", bad: true},
		{in: "rbps=fast", bad: true},
		{in: "bps=1M", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseLimits(tt.in, base)
		if tt.bad != (err != nil) || !tt.bad && got != tt.want {
			t.Errorf("ParseLimits(%q) = %+v, %v; want %+v (error: %v)", tt.in, got, err, tt.want, tt.bad)
		}
	}
}
