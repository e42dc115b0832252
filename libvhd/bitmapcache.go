package libvhd

// bitmapCache keeps sector bitmaps in a fixed set of preallocated slots,
// so reads and writes allocate nothing in steady state. A dirty slot holds
// bits not yet on disk (see flush.go); it is never evicted, so when every
// slot is dirty the image flushes first. A pinned slot is not evicted
// either: a write MapWrite allowed will set its bits without loading it
// (io.go). At most half the slots are pinned, so that a flush always
// leaves one to reuse.
type bitmapCache struct {
	slots  []cacheSlot
	slotOf []int32 // per block: index into slots, or -1
	hand   int     // clock hand for eviction
	pins   int     // of all slots
}

type cacheSlot struct {
	block int32 // -1: free
	dirty bool
	ref   bool // used since the clock hand last passed
	pins  int32
	bits  []byte
}

const (
	defaultBitmapCache = 1 << 20
	minCacheSlots      = 8
)

func newBitmapCache(blocks, bmSize, budget int) *bitmapCache {
	if budget <= 0 {
		budget = defaultBitmapCache
	}
	n := max(budget/bmSize, minCacheSlots)
	c := &bitmapCache{slots: make([]cacheSlot, n), slotOf: make([]int32, blocks)}
	buf := make([]byte, n*bmSize)
	for i := range c.slots {
		c.slots[i] = cacheSlot{block: -1, bits: buf[i*bmSize : (i+1)*bmSize : (i+1)*bmSize]}
	}
	for i := range c.slotOf {
		c.slotOf[i] = -1
	}
	return c
}

// get returns the cached slot of block, or nil.
func (c *bitmapCache) get(block int) *cacheSlot {
	i := c.slotOf[block]
	if i < 0 {
		return nil
	}
	s := &c.slots[i]
	s.ref = true
	return s
}

// victim picks a clean slot to reuse, or -1 if all are dirty.
func (c *bitmapCache) victim() int {
	for range 2 * len(c.slots) {
		i := c.hand
		s := &c.slots[i]
		c.hand = (c.hand + 1) % len(c.slots)
		if s.dirty || s.pins > 0 {
			continue
		}
		if s.ref {
			s.ref = false
			continue
		}
		return i
	}
	return -1
}

// assign binds slot i to block, dropping whatever it held.
func (c *bitmapCache) assign(i, block int) *cacheSlot {
	s := &c.slots[i]
	if s.block >= 0 {
		c.slotOf[s.block] = -1
	}
	s.block = int32(block)
	s.ref = true
	c.slotOf[block] = int32(i)
	return s
}

// release empties slot i.
func (c *bitmapCache) release(i int) {
	s := &c.slots[i]
	if s.block >= 0 {
		c.slotOf[s.block] = -1
	}
	*s = cacheSlot{block: -1, bits: s.bits}
}

// pin keeps block's cached slot, and returns its index; -1 if block is
// not cached or pins are at their bound.
func (c *bitmapCache) pin(block int) int32 {
	i := c.slotOf[block]
	if i < 0 || 2*(c.pins+1) > len(c.slots) {
		return -1
	}
	c.slots[i].pins++
	c.pins++
	return i
}

// unpin undoes pin.
func (c *bitmapCache) unpin(i int32) {
	c.slots[i].pins--
	c.pins--
}
