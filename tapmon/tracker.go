package main

import (
	"cmp"
	"slices"
	"time"

	"gotap.dev/libtap/control/wire"
)

// goneFor is how long a VBD whose tapdisk vanished (or that was detached)
// stays on screen, marked gone, so the user sees it go rather than a row
// silently disappearing.
const goneFor = 5 * time.Second

// trendLen is how many throughput samples a row keeps for its sparkline.
const trendLen = 60

// vbdID names a VBD: a minor of one tapdisk. A dead tapdisk whose VBDs
// were never seen is one row with Minor -1.
type vbdID struct{ Pid, Minor int }

// liveness says whether a row's tapdisk still answers.
type liveness int

const (
	alive liveness = iota
	hung           // the tapdisk is alive but did not answer in time
	dead           // the tapdisk was killed: only its sockets are left
	gone           // its socket (or the minor) has gone
)

// row is one VBD on screen.
type row struct {
	vbdID
	Info   wire.Info
	Live   liveness
	Rate   rate
	Trend  []float64 // MiB/s read+write, oldest first
	goneAt time.Time

	total bool // the totals row: the sum of the live rows
	vbds  int  // how many rows the totals row sums
}

// tracker turns successive snapshots into rows with rates.
type tracker struct {
	rows map[vbdID]*row
	last time.Time
}

func newTracker() *tracker { return &tracker{rows: map[vbdID]*row{}} }

// apply folds in a snapshot and returns every row, by pid and minor.
func (t *tracker) apply(s snapshot) []row {
	dt := s.At.Sub(t.last).Seconds()
	if t.last.IsZero() {
		dt = 0
	}
	t.last = s.At
	seen := map[vbdID]bool{}
	for _, td := range s.Tapdisks {
		switch {
		case td.Dead:
			t.markDown(td, dead, seen)
			continue
		case td.Err != nil:
			t.markDown(td, hung, seen)
			continue
		}
		for _, info := range td.VBDs {
			k := vbdID{td.Pid, info.Minor}
			seen[k] = true
			t.update(k, info, dt)
		}
	}
	for k, r := range t.rows {
		if seen[k] {
			continue
		}
		if k.Minor < 0 { // a placeholder: the tapdisk answers now, or left
			delete(t.rows, k)
			continue
		}
		if r.Live != gone {
			r.Live, r.Rate, r.goneAt = gone, rate{}, s.At
		}
		if s.At.Sub(r.goneAt) >= goneFor {
			delete(t.rows, k)
		}
	}
	return t.sorted()
}

// update records a VBD that answered.
func (t *tracker) update(k vbdID, info wire.Info, dt float64) {
	r := t.rows[k]
	if r == nil {
		r = &row{vbdID: k}
		t.rows[k] = r
	} else if r.Live == alive && dt > 0 {
		r.Rate = rateOf(r.Info.Stats, info.Stats, dt)
		r.Trend = append(r.Trend, r.Rate.ReadMiBs+r.Rate.WriteMiBs)
		if len(r.Trend) > trendLen {
			r.Trend = r.Trend[1:]
		}
	}
	r.Info, r.Live = info, alive
}

// markDown marks a tapdisk's rows dead or hung: those seen before, the
// minors a dead one left sockets for, or one placeholder row when there
// is neither (a tapdisk never seen alive).
func (t *tracker) markDown(td tapdisk, live liveness, seen map[vbdID]bool) {
	found := len(td.VBDs) > 0
	for k, r := range t.rows {
		if k.Pid == td.Pid && r.Live != gone {
			r.Live, r.Rate, seen[k], found = live, rate{}, true, true
		}
	}
	for _, info := range td.VBDs {
		k := vbdID{td.Pid, info.Minor}
		if !seen[k] {
			t.rows[k], seen[k] = &row{vbdID: k, Info: info, Live: live}, true
		}
	}
	if !found {
		k := vbdID{td.Pid, -1}
		t.rows[k], seen[k] = &row{vbdID: k, Live: live}, true
	}
}

func (t *tracker) sorted() []row {
	rows := make([]row, 0, len(t.rows))
	for _, r := range t.rows {
		rows = append(rows, *r)
	}
	slices.SortFunc(rows, func(a, b row) int {
		return cmp.Or(cmp.Compare(a.Pid, b.Pid), cmp.Compare(a.Minor, b.Minor))
	})
	return rows
}
