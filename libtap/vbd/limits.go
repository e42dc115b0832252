package vbd

import (
	"fmt"
	"syscall"

	"gotap.dev/libtap/filter/valve"
	"gotap.dev/libtap/stats"
)

// ChangeLimits changes the limits of the chain's valve layer by options,
// in the valve's syntax (see valve.ParseLimits: the keys given change),
// live:
// requests waiting for tokens follow the new limits at once, without a
// pause, and a resume of the same chain keeps them. EOPNOTSUPP if the
// chain has no valve layer.
func (v *VBD) ChangeLimits(options string) (stats.Limits, error) {
	if c := v.chain.Load(); !c.parsed.Has("valve") {
		return stats.Limits{}, fmt.Errorf("minor %d serves %s, which has no valve layer (open it as valve::%s): %w", v.minor, c.spec, c.spec, syscall.EOPNOTSUPP)
	}
	return v.budget.Change(func(l stats.Limits) (stats.Limits, error) { return valve.ParseLimits(options, l) })
}
