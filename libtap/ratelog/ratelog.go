// Package ratelog keeps one kind of log line from flooding the log: a
// disk that fails every request would otherwise write a line per
// request (74,000 in 45 s were seen on a full disk), filling the disk the
// log is on and hiding every other line. At most Burst lines of a kind
// pass per period; the rest are counted, and one summary line at the end
// of the period says how many were not logged.
package ratelog

import (
	"log/slog"
	"sync"
	"time"
)

// Limiter rate-limits one kind of line. Its zero value is not usable:
// make one with New.
type Limiter struct {
	log    *slog.Logger
	msg    string // of the lines limited
	burst  int
	period time.Duration

	mu      sync.Mutex
	start   time.Time // of the current period
	passed  int       // lines let through in it
	dropped int       // lines refused and not yet reported
	timer   *time.Timer
}

// New limits lines whose message is msg, logged to log, to burst per
// period.
func New(log *slog.Logger, msg string, burst int, period time.Duration) *Limiter {
	l := &Limiter{log: log, msg: msg, burst: max(burst, 1), period: period}
	// One timer for the limiter's life, re-armed with Reset (which does
	// not allocate), so a flood costs no allocation per line.
	l.timer = time.AfterFunc(time.Hour, l.report)
	l.timer.Stop()
	return l
}

// Allow reports whether one more line may be logged now; if not, the
// line is counted for the period's summary. The caller builds the line's
// attributes only when allowed, so a refused line allocates nothing.
func (l *Limiter) Allow() bool {
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.start) >= l.period {
		l.start, l.passed = now, 0
	}
	if l.passed < l.burst {
		l.passed++
		return true
	}
	if l.dropped == 0 {
		l.timer.Reset(l.start.Add(l.period).Sub(now))
	}
	l.dropped++
	return false
}

// report logs the summary of the lines refused since the last one.
func (l *Limiter) report() {
	l.mu.Lock()
	n := l.dropped
	l.dropped = 0
	l.mu.Unlock()
	if n > 0 {
		l.log.Warn(l.msg+": more not logged", "count", n, "limit", l.burst, "per", l.period)
	}
}
