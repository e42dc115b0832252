package valve

import "time"

// bucket is one token bucket, counting bytes or operations. Tokens
// accrue at rate a second, up to burst. A request takes what it needs at
// once, into debt if need be, and goes when the debt it ran up is repaid:
// requests go in the order they came, a large one never starves behind
// small ones, and the rate holds however requests are sized.
//
// So that a waiter can work out its wait again when the rate changes,
// both counts only grow: credit is every token the bucket was given
// (starting full), taken every token requested, and a request may go once
// credit reaches what taken was just after it took.
type bucket struct {
	rate   float64 // tokens a second; 0: no limit
	burst  float64
	credit float64 // as of at
	taken  float64
	at     time.Time
}

// refill credits what accrued since the last refill.
func (b *bucket) refill(now time.Time) {
	if b.rate > 0 {
		b.credit = min(b.credit+b.rate*now.Sub(b.at).Seconds(), b.taken+b.burst)
	}
	b.at = now
}

// set changes the rate and the burst from now on; a bucket newly
// limited starts full.
func (b *bucket) set(rate, burst float64, now time.Time) {
	b.refill(now)
	if b.rate == 0 {
		b.credit = b.taken + burst
	}
	b.rate, b.burst = rate, burst
	b.credit = min(b.credit, b.taken+burst)
}

// take takes n tokens and returns the credit the taker waits for (0
// with no limit).
func (b *bucket) take(n float64, now time.Time) float64 {
	if b.rate == 0 {
		return 0
	}
	b.refill(now)
	b.taken += n
	return b.taken
}

// wait is how long until the credit reaches target, at the rate now.
func (b *bucket) wait(target float64, now time.Time) time.Duration {
	if b.rate == 0 {
		return 0
	}
	b.refill(now)
	if owed := target - b.credit; owed > 0 {
		return time.Duration(owed / b.rate * float64(time.Second))
	}
	return 0
}
