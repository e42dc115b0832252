package main

import (
	"fmt"
	"math"
	"strings"

	"gotap.dev/libtap/stats"
)

// binBounds are the latency histogram's rows, in µs, on a 1-2-5 scale:
// the protocol's quarter-octave buckets are too many for a terminal.
var binBounds = []float64{5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, math.Inf(1)}

// maxBar bounds a bar's length: longer ones are no easier to compare.
const maxBar = 30

// bin is one histogram row: requests of at most le µs (and more than the
// row above's).
type bin struct {
	le          float64
	read, write uint64
}

// bins folds the buckets into binBounds' rows, from the first non-empty
// one to the last, merging neighbours until at most n rows are left.
func bins(read, write []stats.Bucket, n int) []bin {
	all := make([]bin, len(binBounds))
	for i, le := range binBounds {
		all[i].le = le
	}
	add := func(buckets []stats.Bucket, count func(*bin) *uint64) {
		for _, b := range buckets {
			i := 0
			for b.UpperUS > binBounds[i] {
				i++
			}
			*count(&all[i]) += b.Count
		}
	}
	add(read, func(b *bin) *uint64 { return &b.read })
	add(write, func(b *bin) *uint64 { return &b.write })
	first, last := len(all), -1
	for i, b := range all {
		if b.read+b.write > 0 {
			first, last = min(first, i), i
		}
	}
	out := all[min(first, last+1) : last+1]
	for len(out) > max(n, 1) {
		var merged []bin
		for i := 0; i < len(out); i += 2 {
			b := out[i]
			if i+1 < len(out) {
				b.le, b.read, b.write = out[i+1].le, b.read+out[i+1].read, b.write+out[i+1].write
			}
			merged = append(merged, b)
		}
		out = merged
	}
	return out
}

// histogram draws reads' and writes' latency since the VBD opened side
// by side in at most height lines, bars scaled together.
func histogram(st styles, read, write stats.Latency, width, height int) []string {
	rows := bins(read.Buckets, write.Buckets, height-1)
	barW := min(max((width-10-2*8)/2, 4), maxBar)
	head := fmt.Sprintf("  %-8s %-*s %s", "latency", barW+7, "reads", "writes")
	lines := []string{st.header.Render(head)}
	if len(rows) == 0 {
		return append(lines, st.dim.Render("  no requests yet"))
	}
	var top float64
	for _, b := range rows {
		top = max(top, share(b.read, read.Count), share(b.write, write.Count))
	}
	for _, b := range rows {
		lines = append(lines, fmt.Sprintf("  %-8s %s %s", binLabel(b.le),
			bar(st, share(b.read, read.Count), top, barW), bar(st, share(b.write, write.Count), top, barW)))
	}
	return lines
}

func binLabel(le float64) string {
	if math.IsInf(le, 1) {
		return ">" + micros(binBounds[len(binBounds)-2])
	}
	return "≤" + micros(le)
}

func share(n, total uint64) float64 {
	if total == 0 {
		return 0
	}
	return float64(n) / float64(total)
}

// bar is a bar of width cells for v out of top, then v as a percentage.
func bar(st styles, v, top float64, width int) string {
	n := 0
	if top > 0 {
		n = int(v/top*float64(width) + 0.5)
	}
	if v > 0 {
		n = max(n, 1)
	}
	return st.bar.Render(strings.Repeat("█", n)) + strings.Repeat(" ", width-n) + fmt.Sprintf(" %5.1f%%", 100*v)
}
