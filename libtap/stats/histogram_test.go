package stats

import (
	"testing"
	"time"
)

func TestBucketBounds(t *testing.T) {
	for _, ns := range []uint64{0, 1, 7, 8, 9, 15, 16, 1000, 123456, 1 << 40, 1<<63 + 12345} {
		i := bucketOf(ns)
		if ns > bucketUpper(i) || (i > 0 && ns <= bucketUpper(i-1)) {
			t.Errorf("bucketOf(%d) = %d with bounds (%d, %d]", ns, i, bucketUpper(i-1), bucketUpper(i))
		}
	}
}

func TestQuantiles(t *testing.T) {
	var h Histogram
	for range 98 {
		h.Record(100 * time.Microsecond)
	}
	h.Record(50 * time.Millisecond)
	h.Record(50 * time.Millisecond)
	s := h.Summary()
	if s.Count != 100 {
		t.Fatalf("Count = %d; want 100", s.Count)
	}
	if s.P50US < 100 || s.P50US > 120 {
		t.Errorf("P50US = %v; want about 100", s.P50US)
	}
	if s.P99US < 50000 || s.P99US > 60000 {
		t.Errorf("P99US = %v; want about 50000", s.P99US)
	}
}

func TestRecordAllocatesNothing(t *testing.T) {
	var c Counters
	if n := testing.AllocsPerRun(1000, func() { c.Done(true, 4096, time.Millisecond) }); n != 0 {
		t.Errorf("Done allocates %v times per call", n)
	}
}
