package valve

import (
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"gotap.dev/libtap/stats"
)

// DefaultBurst is how much of each limit an idle VBD may spend at once
// unless burst= says otherwise.
const DefaultBurst = time.Second

// Budget is one VBD's rate limits and the token buckets enforcing them.
// The VBD owns it, so it outlives the drivers that pause and resume
// close and reopen, and every frontend connection of the VBD draws on
// it: one budget per VBD.
//
// Waiting allocates nothing (timers are pooled) and blocks only the
// scheduler worker whose request waits; a change of the limits makes
// every waiter work its wait out again at once, and Bypass lets them all
// go, so that a pause or a close never waits for tokens.
type Budget struct {
	mu     sync.Mutex
	read   direction
	write  direction
	limits stats.Limits
	// spec is what the chain's valve layer named when it last opened:
	// a reopen naming the same keeps what was changed live since.
	spec    stats.Limits
	hasSpec bool
	bypass  bool
	// changed is closed, and replaced, when the limits change or a
	// bypass begins: waiters then look again.
	changed chan struct{}
	timers  sync.Pool
}

// direction is the buckets and figures of reads, or of writes.
type direction struct {
	bytes, ops bucket
	limited    atomic.Bool // either bucket has a limit: read without mu
	waits      atomic.Uint64
	waited     atomic.Int64 // nanoseconds
}

// NewBudget makes a budget with no limits.
func NewBudget() *Budget {
	b := &Budget{changed: make(chan struct{}), limits: stats.Limits{BurstMS: DefaultBurst.Milliseconds()}}
	b.timers.New = func() any {
		t := time.NewTimer(time.Hour)
		t.Stop()
		return t
	}
	return b
}

// Limits are the limits in force.
func (b *Budget) Limits() stats.Limits {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.limits
}

// Change replaces the limits with what fn makes of them, live: requests
// waiting work their waits out again with the new ones. It returns the
// limits in force (unchanged if fn fails).
func (b *Budget) Change(fn func(stats.Limits) (stats.Limits, error)) (stats.Limits, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, err := fn(b.limits)
	if err == nil {
		err = check(l)
	}
	if err != nil {
		return b.limits, err
	}
	b.setLocked(l)
	return l, nil
}

// adopt takes the limits a valve layer names as it opens, unless they
// are those it named last time: a reopen (resume) keeps what was
// changed live; a chain naming other limits sets them.
func (b *Budget) adopt(l stats.Limits) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hasSpec && b.spec == l {
		return
	}
	b.spec, b.hasSpec = l, true
	b.setLocked(l)
}

func check(l stats.Limits) error {
	if l.ReadBPS < 0 || l.WriteBPS < 0 || l.ReadIOPS < 0 || l.WriteIOPS < 0 || l.BurstMS <= 0 {
		return fmt.Errorf("valve: limits %+v: want limits ≥ 0 and a burst > 0: %w", l, syscall.EINVAL)
	}
	return nil
}

func (b *Budget) setLocked(l stats.Limits) {
	now := time.Now()
	burst := float64(l.BurstMS) / 1000
	set := func(d *direction, bps, iops int64) {
		// At least one request's worth of operations: a bucket smaller
		// than one would never be full enough to let a request go
		// without waiting.
		d.bytes.set(float64(bps), float64(bps)*burst, now)
		d.ops.set(float64(iops), max(float64(iops)*burst, 1), now)
		d.limited.Store(bps > 0 || iops > 0)
	}
	set(&b.read, l.ReadBPS, l.ReadIOPS)
	set(&b.write, l.WriteBPS, l.WriteIOPS)
	b.limits = l
	b.wake()
}

// wake makes the waiters look again.
func (b *Budget) wake() {
	close(b.changed)
	b.changed = make(chan struct{})
}

// Bypass lets every waiting request go at once, and later ones without
// waiting, until Enforce: for a pause or a close, which must not wait
// for tokens. What they take is still counted, so the rate over time
// holds once enforced again.
func (b *Budget) Bypass() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bypass = true
	b.wake()
}

// Enforce ends a Bypass.
func (b *Budget) Enforce() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.bypass = false
}

// wait holds a request of n bytes made of ops operations until d's
// buckets allow it.
func (b *Budget) wait(d *direction, n int64, ops int) {
	if !d.limited.Load() {
		return
	}
	b.mu.Lock()
	start := time.Now()
	now, waited := start, false
	byteTarget, opTarget := d.bytes.take(float64(n), now), d.ops.take(float64(ops), now)
	for !b.bypass {
		delay := max(d.bytes.wait(byteTarget, now), d.ops.wait(opTarget, now))
		if delay <= 0 {
			break
		}
		changed := b.changed
		b.mu.Unlock()
		b.sleep(delay, changed)
		b.mu.Lock()
		now, waited = time.Now(), true
	}
	b.mu.Unlock()
	if waited {
		d.waits.Add(1)
		d.waited.Add(int64(now.Sub(start)))
	}
}

// sleep waits for delay, or until changed is closed.
func (b *Budget) sleep(delay time.Duration, changed <-chan struct{}) {
	t := b.timers.Get().(*time.Timer)
	t.Reset(delay)
	select {
	case <-t.C:
	case <-changed:
		t.Stop()
	}
	b.timers.Put(t)
}

// Info is the limits and how long they held requests back.
func (b *Budget) Info() stats.Valve {
	return stats.Valve{
		Limits:     b.Limits(),
		ReadWaits:  b.read.waits.Load(),
		WriteWaits: b.write.waits.Load(),
		ReadWaitS:  time.Duration(b.read.waited.Load()).Seconds(),
		WriteWaitS: time.Duration(b.write.waited.Load()).Seconds(),
	}
}
