// Package drivertest runs requests through the scheduler into a driver
// for the drivers' benchmarks and allocation tests.
package drivertest

import (
	"context"
	"log/slog"
	"testing"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/sched"
	"gotap.dev/libtap/stats"
)

// Load is what Requests keeps in flight: 4 KiB Ops at random 4 KiB
// offsets within Size bytes, QD of them, each new one submitted when one
// completes, Batch of them together (sched.SubmitBatch, as an NBD
// connection submits what one socket read brought; 1: Submit).
type Load struct {
	Op        ring.Op
	Size      int64
	QD, Batch int
}

type chanCompleter chan *ring.Request

func (c chanCompleter) Complete(r *ring.Request) { c <- r }

// Requests runs l against d through rg's slots (whose memory d may have
// registered) and a scheduler, one completed request per b.Loop.
func Requests(b *testing.B, d disk.Driver, rg *ring.Ring, l Load) {
	s := sched.New(d, new(stats.Counters), rg.Cap(), sched.Config{Logger: slog.New(slog.DiscardHandler)})
	defer s.Stop()
	done := make(chanCompleter, l.QD)
	ctx := context.Background()
	var seq uint64
	pending := make([]*ring.Request, 0, l.Batch)
	submit := func() {
		req, _ := rg.Get(ctx)
		seq = seq*6364136223846793005 + 1442695040888963407 // an LCG: random offsets, no allocation
		req.Op, req.Offset, req.Length, req.Owner = l.Op, int64(seq>>40)%(l.Size/4096)*4096, 4096, done
		req.Data(4096)
		if l.Batch <= 1 {
			s.Submit(req)
			return
		}
		if pending = append(pending, req); len(pending) == l.Batch {
			s.SubmitBatch(pending)
			pending = pending[:0]
		}
	}
	for range l.QD {
		submit()
	}
	b.ReportAllocs()
	for b.Loop() {
		r := <-done
		if r.Err != nil {
			b.Fatal(r.Err)
		}
		rg.Put(r)
		submit()
	}
	// What waits for a batch to fill is never submitted: not awaited.
	for range l.QD - len(pending) {
		rg.Put(<-done)
	}
	for _, r := range pending {
		rg.Put(r)
	}
}
