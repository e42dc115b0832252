package vbd

import (
	"time"

	"gotap.dev/libtap/control/wire"
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
	if j := v.job.Load(); j != nil {
		info.Coalescing = &wire.Progress{Done: j.copied.Load(), Total: j.total.Load()}
	}
	if c.valve {
		vi := v.budget.Info()
		info.Valve = &vi
	}
	return info
}
