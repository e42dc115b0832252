// Package stats counts what a VBD does: requests, bytes, errors, retries,
// merges, requests in flight, and latency histograms. Counters are atomic
// so the data path updates them without locks and any reader takes a
// consistent-enough snapshot at any time.
package stats

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Histogram counts durations in buckets that grow by a quarter octave
// (four buckets per power of two of nanoseconds): at most 19% off at any
// scale, from nanoseconds to minutes, in 252 atomic counters.
type Histogram struct {
	b [252]atomic.Uint64
}

func bucketOf(ns uint64) int {
	if ns < 8 {
		return int(ns)
	}
	e := bits.Len64(ns) // ≥ 4
	m := ns >> (e - 3)  // the top three bits: 4…7
	return 8 + (e-4)*4 + int(m-4)
}

// bucketUpper is the largest value bucket i holds.
func bucketUpper(i int) uint64 {
	if i < 8 {
		return uint64(i)
	}
	e, m := (i-8)/4+4, uint64((i-8)%4+4)
	return (m+1)<<(e-3) - 1
}

// Record adds one duration.
func (h *Histogram) Record(d time.Duration) {
	h.b[bucketOf(uint64(max(d, 0)))].Add(1)
}

// Bucket is one non-empty histogram bucket: Count durations of at most
// UpperUS microseconds (and more than the previous bucket's bound).
type Bucket struct {
	UpperUS float64 `json:"le_us"`
	Count   uint64  `json:"count"`
}

// Latency summarises a histogram.
type Latency struct {
	Count   uint64   `json:"count"`
	P50US   float64  `json:"p50_us"`
	P99US   float64  `json:"p99_us"`
	Buckets []Bucket `json:"buckets,omitempty"`
}

// Summary reads the histogram once and derives the percentiles from that
// one reading.
func (h *Histogram) Summary() Latency {
	var l Latency
	var counts [len(h.b)]uint64
	for i := range h.b {
		counts[i] = h.b[i].Load()
		l.Count += counts[i]
		if counts[i] > 0 {
			l.Buckets = append(l.Buckets, Bucket{UpperUS: us(bucketUpper(i)), Count: counts[i]})
		}
	}
	l.P50US = quantile(counts[:], l.Count, 0.50)
	l.P99US = quantile(counts[:], l.Count, 0.99)
	return l
}

func quantile(counts []uint64, total uint64, q float64) float64 {
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total-1)) + 1
	var seen uint64
	for i, c := range counts {
		seen += c
		if seen >= rank {
			return us(bucketUpper(i))
		}
	}
	return 0
}

func us(ns uint64) float64 { return float64(ns) / 1e3 }
