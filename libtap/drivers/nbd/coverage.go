package nbd

import "errors"

// maxSpans bounds how many separate pieces of a read the chunks received
// so far may form. A server sending its chunks in order keeps them in
// one; one scattering more than this many gaps at once is refused rather
// than tracked in memory it chooses.
const maxSpans = 64

var (
	errOverlap    = errors.New("overlaps bytes an earlier chunk covered")
	errFragmented = errors.New("leaves too many gaps between chunks")
)

// coverage records which bytes of a read the reply's content chunks
// covered, so that a reply counts as complete only when every byte was
// covered exactly once: a short, duplicated or overlapping reply must
// not pass for the data (the buffer would keep zeros or stale bytes).
// Spans are offsets in the request, sorted, disjoint and never touching
// (touching ones are merged); the array is fixed so that checking costs
// no allocation.
type coverage struct {
	n     int
	spans [maxSpans]struct{ start, end int64 }
	bytes int64 // covered in all
}

func (c *coverage) reset() { c.n, c.bytes = 0, 0 }

// add records [start, end), start < end.
func (c *coverage) add(start, end int64) error {
	// i: the first span starting at or after end. Chunks usually come
	// in order, so the search from the back stops at once.
	i := c.n
	for i > 0 && c.spans[i-1].start >= end {
		i--
	}
	// Spans before i start before end; the last of them ends latest.
	if i > 0 && c.spans[i-1].end > start {
		return errOverlap
	}
	left := i > 0 && c.spans[i-1].end == start
	right := i < c.n && c.spans[i].start == end
	switch {
	case left && right:
		c.spans[i-1].end = c.spans[i].end
		copy(c.spans[i:], c.spans[i+1:c.n])
		c.n--
	case left:
		c.spans[i-1].end = end
	case right:
		c.spans[i].start = start
	case c.n == maxSpans:
		return errFragmented
	default:
		copy(c.spans[i+1:c.n+1], c.spans[i:c.n])
		c.spans[i].start, c.spans[i].end = start, end
		c.n++
	}
	c.bytes += end - start
	return nil
}

// whole reports whether exactly [0, n) is covered.
func (c *coverage) whole(n int64) bool {
	return c.n == 1 && c.spans[0].start == 0 && c.spans[0].end == n
}
