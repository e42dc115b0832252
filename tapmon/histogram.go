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

// bins folds buckets into binBounds' rows.
func bins(buckets []stats.Bucket) []uint64 {
	out := make([]uint64, len(binBounds))
	for _, b := range buckets {
		i := 0
		for b.UpperUS > binBounds[i] {
			i++
		}
		out[i] += b.Count
	}
	return out
}

// histogram draws reads' and writes' latency side by side, one row per
// bin from the first non-empty one to the last, bars scaled together.
func histogram(st styles, read, write stats.Latency, width int) []string {
	r, w := bins(read.Buckets), bins(write.Buckets)
	first, last := len(binBounds), -1
	var top float64
	for i := range binBounds {
		if r[i]+w[i] > 0 {
			first, last = min(first, i), i
		}
		top = max(top, share(r[i], read.Count), share(w[i], write.Count))
	}
	barW := max((width-10-2*8)/2, 4)
	head := fmt.Sprintf("  %-8s %-*s %-*s", "latency", barW+7, "reads", barW+7, "writes")
	lines := []string{st.header.Render(strings.TrimRight(head, " "))}
	if last < 0 {
		return append(lines, st.dim.Render("  no requests yet"))
	}
	for i := first; i <= last; i++ {
		lines = append(lines, fmt.Sprintf("  %-8s %s %s", binLabel(i),
			bar(st, share(r[i], read.Count), top, barW), bar(st, share(w[i], write.Count), top, barW)))
	}
	return lines
}

func binLabel(i int) string {
	if math.IsInf(binBounds[i], 1) {
		return ">" + micros(binBounds[i-1])
	}
	return "≤" + micros(binBounds[i])
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
