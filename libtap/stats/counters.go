package stats

import (
	"sync/atomic"
	"time"
)

// Counters are one VBD's live figures.
type Counters struct {
	Reads, Writes, Flushes, Trims, Zeroes atomic.Uint64
	BlockStatus                           atomic.Uint64 // allocation-map queries
	ReadBytes, WriteBytes                 atomic.Uint64
	Errors, Retries, Merges               atomic.Uint64
	ReadErrors, WriteErrors               atomic.Uint64 // reads and writes the driver failed, among Errors
	InFlight                              atomic.Int64
	ReadLatency, WriteLatency             Histogram
}

// Snapshot is the counters at one moment, as the control protocol sends
// them (field names are part of the protocol).
type Snapshot struct {
	Reads        uint64  `json:"reads"`
	Writes       uint64  `json:"writes"`
	Flushes      uint64  `json:"flushes"`
	Trims        uint64  `json:"trims"`
	Zeroes       uint64  `json:"write_zeroes"`
	BlockStatus  uint64  `json:"block_status"`
	ReadBytes    uint64  `json:"read_bytes"`
	WriteBytes   uint64  `json:"write_bytes"`
	Errors       uint64  `json:"errors"`
	ReadErrors   uint64  `json:"read_errors"`
	WriteErrors  uint64  `json:"write_errors"`
	Retries      uint64  `json:"retries"`
	Merges       uint64  `json:"merges"`
	InFlight     int64   `json:"in_flight"`
	ReadLatency  Latency `json:"read_latency"`
	WriteLatency Latency `json:"write_latency"`
}

// Snapshot reads every counter.
func (c *Counters) Snapshot() Snapshot {
	return Snapshot{
		Reads: c.Reads.Load(), Writes: c.Writes.Load(), Flushes: c.Flushes.Load(),
		Trims: c.Trims.Load(), Zeroes: c.Zeroes.Load(), BlockStatus: c.BlockStatus.Load(),
		ReadBytes: c.ReadBytes.Load(), WriteBytes: c.WriteBytes.Load(),
		Errors: c.Errors.Load(), Retries: c.Retries.Load(), Merges: c.Merges.Load(),
		ReadErrors: c.ReadErrors.Load(), WriteErrors: c.WriteErrors.Load(),
		InFlight:     c.InFlight.Load(),
		ReadLatency:  c.ReadLatency.Summary(),
		WriteLatency: c.WriteLatency.Summary(),
	}
}

// Failed records a failed request, a read or a write if it was one.
// (Counters take no ring.Op: the tools that read them link no ring.)
func (c *Counters) Failed(read, write bool) {
	c.Errors.Add(1)
	switch {
	case read:
		c.ReadErrors.Add(1)
	case write:
		c.WriteErrors.Add(1)
	}
}

// Done records a finished read or write of n bytes that took d.
func (c *Counters) Done(write bool, n int64, d time.Duration) {
	if write {
		c.Writes.Add(1)
		c.WriteBytes.Add(uint64(n))
		c.WriteLatency.Record(d)
		return
	}
	c.Reads.Add(1)
	c.ReadBytes.Add(uint64(n))
	c.ReadLatency.Record(d)
}
