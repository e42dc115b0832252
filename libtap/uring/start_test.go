package uring

import (
	"testing"
	"time"
)

// pingPong restarts its Call until it has completed n times.
type pingPong struct {
	q    *Queue
	left int
	done chan struct{}
}

func (p *pingPong) Completed(c *Call, res int32) {
	if p.left--; p.left == 0 {
		p.q.Put(c)
		close(p.done)
		return
	}
	c.SQE().Reset()
	if err := p.q.Start(c, p); err != nil {
		panic(err)
	}
}

// TestStartNeverLosesACompletion: a Call started again from its own
// completion, one at a time, so that the run stops for good if the
// reaper misses one completion's signal. A NOP completes inside the
// submission, which signals the eventfd at any point of the reaper's
// loop: also while it is between two waits.
func TestStartNeverLosesACompletion(t *testing.T) {
	newRing(t, 2, 0) // skips where io_uring is missing
	q, err := NewQueue(8, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	const runs = 4
	const n = 20000
	pps := make([]*pingPong, runs)
	for i := range pps {
		pps[i] = &pingPong{q: q, left: n, done: make(chan struct{})}
		if err := q.Start(q.Get(), pps[i]); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.After(20 * time.Second)
	for i, p := range pps {
		select {
		case <-p.done:
		case <-deadline:
			t.Fatalf("run %d stalled with %d of %d completions to go: a completion was never reaped", i, p.left, n)
		}
	}
}
