package vbd

import (
	"time"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/stats"
)

// Info takes a snapshot, as the control protocol reports it.
func (v *VBD) Info() wire.Info {
	c := v.chain.Load()
	st := v.State()
	info := wire.Info{
		Minor: v.minor, Image: c.spec, State: st, StateName: st.String(),
		Size: v.Size(), ReadOnly: c.caps.ReadOnly, Direct: c.caps.Direct, Engine: c.caps.Engine,
		RingSlots: v.ring.Cap(), RingInUse: v.ring.InUse(),
		Uptime: time.Since(v.start).Seconds(),
		Stats:  v.stats.Snapshot(), Errors: v.errors.list(),
	}
	info.Chain = c.images(info.Stats)
	if j := v.job.Load(); j != nil {
		info.Coalescing = &wire.Progress{Done: j.copied.Load(), Total: j.total.Load()}
	}
	if c.parsed.Has("valve") {
		vi := v.budget.Info()
		info.Valve = &vi
	}
	return info
}

// images is the chain's images with their request counts: the driver's,
// or for a driver that keeps none (a single image: aio, ram, nbd) the
// VBD's own.
func (c *chain) images(s stats.Snapshot) []wire.Image {
	if c.counter != nil {
		return c.counter.ImageCounts()
	}
	return []wire.Image{{
		Path: c.parsed.Image.Path, Driver: c.parsed.Image.Type,
		Hits: [2]uint64{s.Reads + s.ReadErrors, s.Writes + s.WriteErrors},
		Fail: [2]uint64{s.ReadErrors, s.WriteErrors},
	}}
}
