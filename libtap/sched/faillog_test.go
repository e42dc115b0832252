package sched

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gotap.dev/libtap/drivers/ram"
	"gotap.dev/libtap/ring"
	"gotap.dev/libtap/stats"
)

// logBuffer is a log destination safe for concurrent writers.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestFailuresLogRateLimited: a disk failing every request logs a few of
// the failures and then how many more there were, not a line each.
func TestFailuresLogRateLimited(t *testing.T) {
	const requests = 500
	mem, err := ram.Open("1M", false)
	if err != nil {
		t.Fatal(err)
	}
	fails := make([]error, requests)
	for i := range fails {
		fails[i] = syscall.EIO
	}
	var logs logBuffer
	var st stats.Counters
	s := New(&faulty{Driver: mem, fails: fails}, &st, 4, Config{Depth: 2, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	rg := ring.New(4, 4096)
	done := make(chanCompleter, 1)
	for range requests {
		req, _ := rg.Get(t.Context())
		req.Op, req.Offset, req.Length, req.Owner = ring.Read, 0, 4096, done
		req.Data(4096)
		s.Submit(req)
		rg.Put(<-done)
	}
	s.Stop()
	time.Sleep(failLogPeriod + 200*time.Millisecond) // the summary comes at the period's end
	out := logs.String()
	lines := strings.Count(out, `msg="request failed" `)
	summaries := strings.Count(out, `msg="request failed: more not logged"`)
	if lines < 1 || lines > 2*failLogBurst || summaries < 1 || summaries > 2 {
		t.Errorf("%d failed requests logged %d lines and %d summaries; want at most %d and 1 or 2:\n%s",
			requests, lines, summaries, 2*failLogBurst, out)
	}
	if st.Errors.Load() != requests {
		t.Errorf("errors counted = %d; want %d (every failure counts, logged or not)", st.Errors.Load(), requests)
	}
}
