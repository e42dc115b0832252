package vbd

import (
	"time"

	"gotap.dev/libtap/stats"
)

// Info is what the control protocol reports about a VBD (`stats`,
// `list`); its JSON field names are part of the protocol.
type Info struct {
	Minor     int            `json:"minor"`
	Image     string         `json:"image"` // type:path
	State     State          `json:"state"`
	StateName string         `json:"state_name"`
	Size      int64          `json:"size"`
	ReadOnly  bool           `json:"read_only"`
	Direct    bool           `json:"direct"`
	RingSlots int            `json:"ring_slots"`
	RingInUse int            `json:"ring_in_use"`
	Uptime    float64        `json:"uptime_s"`
	Stats     stats.Snapshot `json:"stats"`
	Errors    []ErrorRecord  `json:"recent_errors,omitempty"`
	// Valve: the limits of the chain's valve layer, if it has one, and
	// how long they held requests back.
	Valve *stats.Valve `json:"valve,omitempty"`
}

// Info takes a snapshot.
func (v *VBD) Info() Info {
	c := v.chain.Load()
	st := v.State()
	info := Info{
		Minor: v.minor, Image: c.spec, State: st, StateName: st.String(),
		Size: v.size, ReadOnly: c.caps.ReadOnly, Direct: c.caps.Direct,
		RingSlots: v.ring.Cap(), RingInUse: v.ring.InUse(),
		Uptime: time.Since(v.start).Seconds(),
		Stats:  v.stats.Snapshot(), Errors: v.errors.list(),
	}
	if c.valve {
		vi := v.budget.Info()
		info.Valve = &vi
	}
	return info
}
