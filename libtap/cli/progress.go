package cli

import (
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// Progress draws a one-line bar for a long copy on a terminal:
//
//	coalesce [#########-----------]  45.0%  460 MiB/1.0 GiB  850 MiB/s  ETA 0:01
//
// It redraws the line in place (\r) at most every redrawEvery and does
// nothing at all when its writer is not a terminal, so a command can
// always call it and scripts reading stderr never see it. Its Update has
// the shape of libvhd's progress callbacks (done and total in bytes).
type Progress struct {
	w     io.Writer
	label string
	tty   bool
	now   func() time.Time
	start time.Time
	last  time.Time // the last redraw
	drawn bool
}

const (
	redrawEvery = 100 * time.Millisecond
	barWidth    = 24
)

// NewProgress returns a bar labelled label, drawn on w when w is a terminal.
func NewProgress(w io.Writer, label string) *Progress {
	return newProgress(w, label, isTerminal(w), time.Now)
}

func newProgress(w io.Writer, label string, tty bool, now func() time.Time) *Progress {
	return &Progress{w: w, label: label, tty: tty, now: now, start: now()}
}

// isTerminal reports whether w is a file descriptor open on a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	if !ok {
		return false
	}
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// Update redraws the bar for done of total bytes, unless the last redraw
// is too recent (the final one, done == total, is always drawn).
func (p *Progress) Update(done, total int64) {
	if !p.tty {
		return
	}
	t := p.now()
	if p.drawn && done < total && t.Sub(p.last) < redrawEvery {
		return
	}
	p.last, p.drawn = t, true
	fmt.Fprintf(p.w, "\r%s", p.line(done, total, t.Sub(p.start)))
}

// Done ends the bar's line, so what is printed next starts on its own.
func (p *Progress) Done() {
	if p.tty && p.drawn {
		fmt.Fprintln(p.w)
	}
}

// line renders one state of the bar.
func (p *Progress) line(done, total int64, elapsed time.Duration) string {
	frac := 1.0
	if total > 0 {
		frac = min(float64(done)/float64(total), 1)
	}
	full := int(frac * barWidth)
	bar := strings.Repeat("#", full) + strings.Repeat("-", barWidth-full)
	s := fmt.Sprintf("%s [%s] %5.1f%%  %s/%s", p.label, bar, 100*frac, byteSize(done), byteSize(total))
	if secs := elapsed.Seconds(); secs > 0 && done > 0 {
		rate := float64(done) / secs
		eta := time.Duration(float64(total-done) / rate * float64(time.Second))
		s += fmt.Sprintf("  %s/s  ETA %s", byteSize(int64(rate)), clock(eta))
	}
	return s + "\x1b[K" // clear what a longer previous line left
}

// byteSize prints n bytes in binary units, one decimal.
func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, u := float64(n), 0
	for v >= unit && u < 5 {
		v /= unit
		u++
	}
	return fmt.Sprintf("%.1f %ciB", v, "KMGTP"[u-1])
}

// clock prints d as h:mm:ss, or m:ss under an hour.
func clock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}
