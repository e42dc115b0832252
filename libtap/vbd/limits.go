package vbd

import (
	"fmt"
	"syscall"

	"gotap.dev/libtap/stats"
)

// ChangeLimits applies fn to the limits of the chain's valve layer, live:
// requests waiting for tokens follow the new limits at once, without a
// pause, and a resume of the same chain keeps them. EOPNOTSUPP if the
// chain has no valve layer.
func (v *VBD) ChangeLimits(fn func(*stats.Limits)) (stats.Limits, error) {
	if c := v.chain.Load(); !c.valve {
		return stats.Limits{}, fmt.Errorf("minor %d serves %s, which has no valve layer (open it as valve::%s): %w", v.minor, c.spec, c.spec, syscall.EOPNOTSUPP)
	}
	return v.budget.Change(fn)
}
