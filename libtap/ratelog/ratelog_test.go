package ratelog

import (
	"bytes"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a log destination safe for the summary's goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestFloodIsSummarised(t *testing.T) {
	tests := []struct {
		name  string
		burst int
		lines int
		want  string // the summary, "" for none
	}{
		{"under the limit", 5, 4, ""},
		{"at the limit", 5, 5, ""},
		{"flood", 5, 10000, "count=9995"},
		{"burst 0 means 1", 0, 3, "count=2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out lockedBuffer
			const period = 100 * time.Millisecond
			l := New(slog.New(slog.NewTextHandler(&out, nil)), "request failed", tt.burst, period)
			passed := 0
			for range tt.lines {
				if l.Allow() {
					passed++
				}
			}
			if want := min(tt.lines, max(tt.burst, 1)); passed != want {
				t.Errorf("%d lines passed; want %d", passed, want)
			}
			time.Sleep(3 * period)
			got := out.String()
			if tt.want == "" {
				if got != "" {
					t.Errorf("summary logged with nothing refused:\n%s", got)
				}
				return
			}
			if strings.Count(got, "\n") != 1 || !strings.Contains(got, `msg="request failed: more not logged" `+tt.want) {
				t.Errorf("summary = %q; want one line with %s", got, tt.want)
			}
			if !l.Allow() {
				t.Error("a line refused in the next period")
			}
		})
	}
}

// TestRefusedLineAllocatesNothing: the limiter sits on the request path.
func TestRefusedLineAllocatesNothing(t *testing.T) {
	l := New(slog.New(slog.DiscardHandler), "request failed", 1, time.Hour)
	l.Allow()
	if n := testing.AllocsPerRun(1000, func() { l.Allow() }); n != 0 {
		t.Errorf("Allow allocates %v times per refused line; want 0", n)
	}
}
