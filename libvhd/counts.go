package libvhd

import "sync/atomic"

// Directions of the request counts.
const (
	countRead = iota
	countWrite
)

// counts are blktap's per-image request statistics (tap-ctl stats'
// hits and fail): the requests that reached one image of a chain, and
// those that failed there, [read, write]. A read reaches the leaf, and
// each parent once per run of sectors the layers above it do not hold,
// as blktap forwards it; a write reaches only the leaf.
type counts struct {
	hits, fail [2]atomic.Uint64
}

func (c *counts) note(dir int, err error) {
	c.hits[dir].Add(1)
	if err != nil {
		c.fail[dir].Add(1)
	}
}

func (c *counts) tally() (hits, fail [2]uint64) {
	for d := range 2 {
		hits[d], fail[d] = c.hits[d].Load(), c.fail[d].Load()
	}
	return hits, fail
}

// LayerCounts is one image of a chain and the requests that reached it.
type LayerCounts struct {
	Path       string
	Raw        bool      // a raw parent, not a VHD
	Hits, Fail [2]uint64 // [read, write]
}

// Counts lists the chain from im down with each image's request counts.
// It may be called at any time, also after Close.
func (im *Image) Counts() []LayerCounts {
	var out []LayerCounts
	for l := layer(im); l != nil; l = l.next() {
		hits, fail := l.tally()
		_, raw := l.(*rawLayer)
		out = append(out, LayerCounts{Path: l.name(), Raw: raw, Hits: hits, Fail: fail})
	}
	return out
}
