package uring

import (
	"sync"
	"testing"
	"time"
)

// counter counts completions and puts the Calls back.
type counter struct {
	q    *Queue
	mu   sync.Mutex
	n    int
	done chan struct{} // gets a value per completion
}

func (k *counter) Completed(c *Call, res int32) {
	k.q.Put(c)
	k.mu.Lock()
	k.n++
	k.mu.Unlock()
	k.done <- struct{}{}
}

func (k *counter) count() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.n
}

// TestEnqueueWaitsForASubmission: enqueued entries stay out of the
// kernel until a Submit, or a Start, hands them over with its own.
func TestEnqueueWaitsForASubmission(t *testing.T) {
	for _, tc := range []struct {
		name   string
		submit func(q *Queue, k *counter) error
		want   int
	}{
		{"Submit", func(q *Queue, k *counter) error { q.Submit(); return nil }, 3},
		{"Start", func(q *Queue, k *counter) error { return q.Start(q.Get(), k) }, 4},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newRing(t, 2, 0) // skips where io_uring is missing
			q, err := NewQueue(8, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer q.Close()
			k := &counter{q: q, done: make(chan struct{}, 8)}
			for range 3 {
				q.Enqueue(q.Get(), k) // a NOP: a reset entry
			}
			time.Sleep(50 * time.Millisecond)
			if n := k.count(); n != 0 {
				t.Fatalf("%d enqueued entries completed before any submission", n)
			}
			if err := tc.submit(q, k); err != nil {
				t.Fatal(err)
			}
			deadline := time.After(10 * time.Second)
			for i := range tc.want {
				select {
				case <-k.done:
				case <-deadline:
					t.Fatalf("%d of %d completions after the submission", i, tc.want)
				}
			}
			q.Submit() // nothing held: no system call, nothing completes
			select {
			case <-k.done:
				t.Fatal("a completion more than was submitted")
			case <-time.After(20 * time.Millisecond):
			}
		})
	}
}
