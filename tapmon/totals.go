package main

// totals sums the live rows into one row; dead and gone rows did
// nothing in the interval and their counters are stale.
func totals(rows []row) row {
	t := row{vbdID: vbdID{-1, -1}, total: true}
	for _, r := range rows {
		if r.Live != alive {
			continue
		}
		t.vbds++
		t.Rate.ReadIOPS += r.Rate.ReadIOPS
		t.Rate.WriteIOPS += r.Rate.WriteIOPS
		t.Rate.ReadMiBs += r.Rate.ReadMiBs
		t.Rate.WriteMiBs += r.Rate.WriteMiBs
		t.Info.Stats.InFlight += r.Info.Stats.InFlight
		t.Info.Stats.Retries += r.Info.Stats.Retries
		t.Info.Stats.Errors += r.Info.Stats.Errors
		t.Trend = addAligned(t.Trend, r.Trend)
	}
	return t
}

// addAligned adds two series whose last samples are simultaneous.
func addAligned(a, b []float64) []float64 {
	if len(a) < len(b) {
		a, b = b, a
	}
	out := append([]float64(nil), a...)
	for i, v := range b {
		out[len(a)-len(b)+i] += v
	}
	return out
}
