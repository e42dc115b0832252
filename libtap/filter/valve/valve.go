// Package valve is the valve filter (`valve:OPTIONS:…`): per-VBD rate
// limits, bytes and operations a second, reads and writes apart, with
// token buckets that let an idle disk burst. Options (0 or absent: no
// limit):
//
//	rbps=BYTES wbps=BYTES   bytes read, written a second ("20M": 20 MiB/s)
//	riops=N wiops=N         reads, writes a second
//	burst=DURATION          how much of each limit an idle disk may spend
//	                        at once (default 1s)
//
// Reads and writes wait for tokens before they go on; flushes, trims,
// write-zeroes and the allocation map move no data and pass freely. A
// vectored request counts one operation per buffer: the scheduler
// merges client requests into one vector, one buffer each, so riops and
// wiops count what clients sent.
//
// The limits live in the VBD's Budget, not in the filter: they outlast
// the drivers a pause closes, every connection shares them, and tap-ctl
// rate changes them live (see Budget).
package valve

import (
	"time"

	"gotap.dev/libtap/disk"
	"gotap.dev/libtap/filter"
	"gotap.dev/libtap/stats"
)

// ParseLimits reads limits in the valve's option syntax over base: the
// keys given change, the others keep base's values. It serves both a
// valve layer's options (over no limits) and tap-ctl rate's live
// changes (over the limits in force).
func ParseLimits(options string, base stats.Limits) (stats.Limits, error) {
	o, err := filter.ParseOptions("valve", options)
	if err != nil {
		return base, err
	}
	l := stats.Limits{
		ReadBPS: o.Size("rbps", base.ReadBPS), WriteBPS: o.Size("wbps", base.WriteBPS),
		ReadIOPS: o.Count("riops", base.ReadIOPS), WriteIOPS: o.Count("wiops", base.WriteIOPS),
		BurstMS: o.Duration("burst", time.Duration(base.BurstMS)*time.Millisecond).Milliseconds(),
	}
	if err := o.Err(); err != nil {
		return base, err
	}
	return l, check(l)
}

// Parse reads the options of a valve layer.
func Parse(options string) (stats.Limits, error) {
	return ParseLimits(options, stats.Limits{BurstMS: DefaultBurst.Milliseconds()})
}

// Filter holds reads and writes until the budget allows them.
type Filter struct {
	disk.Driver
	budget *Budget
}

// New puts a valve over next, drawing on budget (a new one if nil),
// which takes the layer's limits unless it had them already (see
// Budget.adopt).
func New(next disk.Driver, budget *Budget, l stats.Limits) *Filter {
	if budget == nil {
		budget = NewBudget()
	}
	budget.adopt(l)
	return &Filter{Driver: next, budget: budget}
}

// Unwrap is the driver under the filter.
func (f *Filter) Unwrap() disk.Driver { return f.Driver }

func (f *Filter) ReadV(bufs [][]byte, off int64) error {
	f.budget.wait(&f.budget.read, disk.TotalLen(bufs), len(bufs))
	return f.Driver.ReadV(bufs, off)
}

func (f *Filter) WriteV(bufs [][]byte, off int64, fua bool) error {
	f.budget.wait(&f.budget.write, disk.TotalLen(bufs), len(bufs))
	return f.Driver.WriteV(bufs, off, fua)
}
