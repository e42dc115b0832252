package sched

import (
	"slices"
	"sync"
	"testing"
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/drivers/ram"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/stats"
)

// plugger is a Starter over a RAM disk that holds operations started
// with more until Unplug, and logs what it was told. A StartV without
// more runs only its own operation, as aio's buffered writes do.
type plugger struct {
	disk.Driver
	mu   sync.Mutex
	held []func()
	log  []string
}

func (p *plugger) StartV(write bool, bufs [][]byte, off int64, _, more bool, done func(error)) bool {
	op := func() { done(p.Driver.ReadV(bufs, off)) }
	if write {
		op = func() { done(p.Driver.WriteV(bufs, off, false)) }
	}
	p.mu.Lock()
	if more {
		p.held = append(p.held, op)
		p.log = append(p.log, "more")
		p.mu.Unlock()
		return true
	}
	p.log = append(p.log, "start")
	p.mu.Unlock()
	op()
	return true
}

func (p *plugger) Unplug() {
	p.mu.Lock()
	p.log = append(p.log, "unplug")
	p.mu.Unlock()
	p.run()
}

func (p *plugger) run() {
	p.mu.Lock()
	held := p.held
	p.held = nil
	p.mu.Unlock()
	for _, op := range held {
		op()
	}
}

// TestSubmitBatch: a batch reaches a Starter as one burst, and nothing
// stays held when the batch ends however its last request goes.
func TestSubmitBatch(t *testing.T) {
	for _, tc := range []struct {
		name string
		ops  []ring.Op
		want []string
	}{
		{"one read", []ring.Op{ring.Read}, []string{"start"}},
		{"reads and writes", []ring.Op{ring.Read, ring.Write, ring.Read}, []string{"more", "more", "start", "unplug"}},
		{"a flush last", []ring.Op{ring.Write, ring.Write, ring.Flush}, []string{"more", "more", "unplug"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mem, err := ram.Open("1M", false)
			if err != nil {
				t.Fatal(err)
			}
			drv := &plugger{Driver: mem}
			var st stats.Counters
			s := New(drv, &st, 8, Config{Depth: 4})
			defer s.Stop()
			rg := ring.New(8, 4096)
			done := make(chanCompleter, len(tc.ops))
			var reqs []*ring.Request
			for i, op := range tc.ops {
				req, _ := rg.Get(t.Context())
				req.Op, req.Owner = op, done
				if op != ring.Flush {
					req.Offset, req.Length = int64(i)*8192, 4096
					req.Data(4096)
				}
				reqs = append(reqs, req)
			}
			s.SubmitBatch(reqs)
			for i := range tc.ops {
				select {
				case r := <-done:
					if r.Err != nil {
						t.Errorf("%v failed: %v", r.Op, r.Err)
					}
				case <-time.After(10 * time.Second):
					t.Fatalf("%d of %d requests completed; the others were held and never started", i, len(tc.ops))
				}
			}
			if !slices.Equal(drv.log, tc.want) {
				t.Errorf("driver told %q; want %q", drv.log, tc.want)
			}
		})
	}
}
