package main

import (
	"cmp"
	"slices"

	"gotap.dev/libtap/stats"
)

const mib = 1 << 20

// rate is what a VBD did between two snapshots.
type rate struct {
	ReadIOPS, WriteIOPS float64
	ReadMiBs, WriteMiBs float64
	// P50US and P99US are latency percentiles of the requests that
	// completed in the interval, reads and writes together, from the
	// difference of the histograms; 0 when none completed. (The
	// protocol's own percentiles are since start, which hides a disk
	// that just became slow.)
	P50US, P99US float64
}

// rateOf compares two snapshots taken dt seconds apart. A counter that
// went down (a minor reopened) counts as no activity.
func rateOf(prev, cur stats.Snapshot, dt float64) rate {
	per := func(a, b uint64) float64 {
		if b < a {
			return 0
		}
		return float64(b-a) / dt
	}
	lat := bucketDelta(
		append(slices.Clone(prev.ReadLatency.Buckets), prev.WriteLatency.Buckets...),
		append(slices.Clone(cur.ReadLatency.Buckets), cur.WriteLatency.Buckets...))
	return rate{
		ReadIOPS: per(prev.Reads, cur.Reads), WriteIOPS: per(prev.Writes, cur.Writes),
		ReadMiBs: per(prev.ReadBytes, cur.ReadBytes) / mib, WriteMiBs: per(prev.WriteBytes, cur.WriteBytes) / mib,
		P50US: quantile(lat, 0.50), P99US: quantile(lat, 0.99),
	}
}

// bucketDelta is cur minus prev, bucket by bucket, sorted by bound;
// either list may hold one bound twice (reads and writes appended).
func bucketDelta(prev, cur []stats.Bucket) []stats.Bucket {
	counts := map[float64]int64{}
	for _, b := range cur {
		counts[b.UpperUS] += int64(b.Count)
	}
	for _, b := range prev {
		counts[b.UpperUS] -= int64(b.Count)
	}
	var out []stats.Bucket
	for le, n := range counts {
		if n > 0 {
			out = append(out, stats.Bucket{UpperUS: le, Count: uint64(n)})
		}
	}
	slices.SortFunc(out, func(a, b stats.Bucket) int { return cmp.Compare(a.UpperUS, b.UpperUS) })
	return out
}

// quantile is the bound of the bucket holding rank q, as package stats
// computes it; 0 for no requests.
func quantile(buckets []stats.Bucket, q float64) float64 {
	var total uint64
	for _, b := range buckets {
		total += b.Count
	}
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total-1)) + 1
	var seen uint64
	for _, b := range buckets {
		if seen += b.Count; seen >= rank {
			return b.UpperUS
		}
	}
	return 0
}
