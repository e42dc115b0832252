package wire

import "time"

// Coalesced is the result of a live coalesce (tap-ctl/xmsnap coalesce).
type Coalesced struct {
	Sectors int64         `json:"sectors"` // copied, as vhd-util coalesce counts them
	Merged  []string      `json:"merged"`  // images no longer in the chain, left on disk
	Paused  time.Duration `json:"paused_ns"`
}

// Progress is how far a coalesce running on a VBD has got, in bytes.
type Progress struct {
	Done  int64 `json:"done"`
	Total int64 `json:"total"`
}
