package valve

import (
	"testing"
	"time"
)

// TestBucket walks one bucket (100 tokens a second, a burst of 10)
// through a fake clock: each step takes n tokens at ms and must wait
// want; a step with rate set changes the rate first.
func TestBucket(t *testing.T) {
	t0 := time.Now()
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	var b bucket
	b.set(100, 10, t0)
	steps := []struct {
		ms   int
		rate float64 // 0: unchanged
		n    float64
		want time.Duration
	}{
		{0, 0, 10, 0},                      // the burst: a new bucket is full
		{0, 0, 5, 50 * time.Millisecond},   // 5 owed at 100/s
		{0, 0, 5, 100 * time.Millisecond},  // behind the previous one
		{100, 0, 1, 10 * time.Millisecond}, // the debt is repaid: 1 owed
		{10000, 0, 10, 0},                  // idle: full again, no more
		{10000, 0, 1, 10 * time.Millisecond},
		{10000, 200, 1, 10 * time.Millisecond}, // 2 owed at 200/s
		{10000, 0, 40, 210 * time.Millisecond}, // a taker larger than the burst waits its turn
	}
	for i, s := range steps {
		if s.rate != 0 {
			b.set(s.rate, 10, at(s.ms))
		}
		target := b.take(s.n, at(s.ms))
		if got := b.wait(target, at(s.ms)); !near(got, s.want) {
			t.Errorf("step %d: take %v at %d ms waits %v; want %v", i, s.n, s.ms, got, s.want)
		}
	}
}

// TestBucketChange: a waiter's wait follows a change of rate made while
// it waits, and ends when the limit goes.
func TestBucketChange(t *testing.T) {
	t0 := time.Now()
	var b bucket
	b.set(10, 1, t0)
	b.take(1, t0)
	target := b.take(10, t0) // 10 owed at 10/s: one second
	if got := b.wait(target, t0); !near(got, time.Second) {
		t.Fatalf("wait = %v; want 1s", got)
	}
	half := t0.Add(500 * time.Millisecond) // 5 repaid, 5 owed
	b.set(50, 1, half)
	if got := b.wait(target, half); !near(got, 100*time.Millisecond) {
		t.Errorf("wait after the rate went to 50/s = %v; want 100ms", got)
	}
	b.set(0, 1, half)
	if got := b.wait(target, half); got != 0 {
		t.Errorf("wait with no limit = %v; want 0", got)
	}
	b.set(10, 1, half) // limited again: starts full, the old debt forgiven
	if got := b.wait(target, half); got != 0 {
		t.Errorf("wait for a debt from before the limit went = %v; want 0", got)
	}
}

func near(got, want time.Duration) bool {
	d := got - want
	return d > -time.Microsecond && d < time.Microsecond
}
