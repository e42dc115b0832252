package nbd

import (
	"math/rand/v2"
	"testing"
)

// TestCoverageAgainstAModel adds random pieces of a small request in
// random order and checks every answer against a byte map: add refuses
// exactly the pieces that overlap what is covered (or would need more
// spans than it keeps), and whole holds exactly when every byte is.
func TestCoverageAgainstAModel(t *testing.T) {
	const n = 200
	r := rand.New(rand.NewPCG(1, 2))
	for round := range 2000 {
		var c coverage
		var covered [n]bool
		for range 1 + r.IntN(150) {
			start := r.Int64N(n)
			end := start + 1 + r.Int64N(min(n-start, 1+r.Int64N(20)))
			overlap := false
			for i := start; i < end; i++ {
				overlap = overlap || covered[i]
			}
			before := c.n
			err := c.add(start, end)
			switch {
			case overlap && err != errOverlap:
				t.Fatalf("round %d: add(%d, %d) over covered bytes = %v; want errOverlap", round, start, end, err)
			case !overlap && err == errFragmented && before < maxSpans:
				t.Fatalf("round %d: add(%d, %d) = errFragmented with %d spans", round, start, end, before)
			case !overlap && err != nil && err != errFragmented:
				t.Fatalf("round %d: add(%d, %d) = %v; want nil", round, start, end, err)
			case err == nil:
				for i := start; i < end; i++ {
					covered[i] = true
				}
			}
			all, count := true, int64(0)
			for _, b := range covered {
				all = all && b
				if b {
					count++
				}
			}
			if c.whole(n) != all || c.bytes != count {
				t.Fatalf("round %d: whole %v, %d bytes; the model has %v, %d", round, c.whole(n), c.bytes, all, count)
			}
		}
	}
}

// TestCoverageKeepsSpansMerged: pieces that touch become one span, in
// whatever order they come, so an in-order or backwards reply never
// runs out of spans.
func TestCoverageKeepsSpansMerged(t *testing.T) {
	for _, tc := range []struct {
		name   string
		pieces [][2]int64
		spans  int
	}{
		{"in order", [][2]int64{{0, 10}, {10, 20}, {20, 30}}, 1},
		{"backwards", [][2]int64{{20, 30}, {10, 20}, {0, 10}}, 1},
		{"gap filled", [][2]int64{{0, 10}, {20, 30}, {10, 20}}, 1},
		{"apart", [][2]int64{{0, 10}, {20, 30}}, 2},
		{"middle, then the ends", [][2]int64{{10, 20}, {30, 40}, {0, 10}, {40, 50}}, 2},
	} {
		var c coverage
		for _, p := range tc.pieces {
			if err := c.add(p[0], p[1]); err != nil {
				t.Fatalf("%s: add(%d, %d): %v", tc.name, p[0], p[1], err)
			}
		}
		if c.n != tc.spans {
			t.Errorf("%s: %d spans %v; want %d", tc.name, c.n, c.spans[:c.n], tc.spans)
		}
	}
	var c coverage
	for i := range int64(maxSpans) {
		if err := c.add(2*i, 2*i+1); err != nil {
			t.Fatalf("span %d of %d: %v", i, maxSpans, err)
		}
	}
	if err := c.add(2*maxSpans, 2*maxSpans+1); err != errFragmented {
		t.Errorf("span %d: %v; want errFragmented", maxSpans+1, err)
	}
	if err := c.add(1, 2); err != nil {
		t.Errorf("a piece joining two spans when all are used: %v", err)
	}
}
