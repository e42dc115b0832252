package stats

// Limits are a VBD's rate limits, which its valve filter enforces: 0 is
// no limit. Field names are part of the control protocol.
type Limits struct {
	ReadBPS   int64 `json:"rbps"`  // bytes read a second
	WriteBPS  int64 `json:"wbps"`  // bytes written a second
	ReadIOPS  int64 `json:"riops"` // reads a second
	WriteIOPS int64 `json:"wiops"` // writes a second
	// BurstMS is how much of each limit an idle VBD may spend at once, in
	// milliseconds of it: the size of its token buckets.
	BurstMS int64 `json:"burst_ms"`
}

// Valve is a VBD's limits and how long they held its requests back.
type Valve struct {
	Limits
	ReadWaits  uint64  `json:"read_waits"`   // reads that waited
	WriteWaits uint64  `json:"write_waits"`  // writes that waited
	ReadWaitS  float64 `json:"read_wait_s"`  // total time reads waited
	WriteWaitS float64 `json:"write_wait_s"` // total time writes waited
}
