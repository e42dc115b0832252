package cli

import (
	"strings"
	"testing"
	"time"
)

// fakeClock advances by step at each reading.
func fakeClock(step time.Duration) func() time.Time {
	t := time.Unix(0, 0)
	return func() time.Time { t = t.Add(step); return t }
}

func TestProgressTerminal(t *testing.T) {
	var w strings.Builder
	p := newProgress(&w, "copy", true, fakeClock(time.Second))
	p.Update(512<<20, 1<<30)
	p.Update(1<<30, 1<<30)
	p.Done()
	want := "\rcopy [############------------]  50.0%  512.0 MiB/1.0 GiB  512.0 MiB/s  ETA 0:01\x1b[K" +
		"\rcopy [########################] 100.0%  1.0 GiB/1.0 GiB  512.0 MiB/s  ETA 0:00\x1b[K\n"
	if w.String() != want {
		t.Errorf("output = %q; want %q", w.String(), want)
	}
}

func TestProgressThrottles(t *testing.T) {
	var w strings.Builder
	p := newProgress(&w, "copy", true, fakeClock(time.Millisecond))
	for i := int64(1); i < 50; i++ {
		p.Update(i, 100)
	}
	if n := strings.Count(w.String(), "\r"); n != 1 {
		t.Errorf("%d redraws within 50 ms; want 1", n)
	}
	p.Update(100, 100)
	if n := strings.Count(w.String(), "\r"); n != 2 {
		t.Errorf("%d redraws after the last update; want 2 (the final one is always drawn)", n)
	}
}

func TestProgressNotTerminal(t *testing.T) {
	var w strings.Builder
	p := NewProgress(&w, "copy")
	p.Update(1, 2)
	p.Update(2, 2)
	p.Done()
	if w.Len() != 0 {
		t.Errorf("wrote %q to a non-terminal; want nothing", w.String())
	}
}

func TestByteSizeAndClock(t *testing.T) {
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1023 << 10, "1023.0 KiB"}, {3 << 40, "3.0 TiB"}} {
		if got := byteSize(tc.n); got != tc.want {
			t.Errorf("byteSize(%d) = %q; want %q", tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{0, "0:00"}, {61 * time.Second, "1:01"}, {3725 * time.Second, "1:02:05"}} {
		if got := clock(tc.d); got != tc.want {
			t.Errorf("clock(%v) = %q; want %q", tc.d, got, tc.want)
		}
	}
}
