package main

import (
	"fmt"
	"strings"
	"time"

	"gotap.dev/libtap/stats"
)

// colLimit marks rate-limited VBDs: which directions their valve limits
// (r, w, r+w), "-" for none.
var colLimit = column{"LIMIT", 5, false, 5, func(r row) string {
	if r.total || r.Info.Valve == nil {
		return "-"
	}
	l := r.Info.Valve.Limits
	read, write := l.ReadBPS > 0 || l.ReadIOPS > 0, l.WriteBPS > 0 || l.WriteIOPS > 0
	switch {
	case read && write:
		return "r+w"
	case read:
		return "r"
	case write:
		return "w"
	}
	return "-"
}}

// limitLines are the detail pane's lines on the valve: its limits and
// how long they held requests back; none without a valve layer.
func limitLines(v *stats.Valve) []string {
	if v == nil {
		return nil
	}
	return []string{
		fmt.Sprintf("limits    reads %s  writes %s  burst %v",
			limit(v.ReadBPS, v.ReadIOPS), limit(v.WriteBPS, v.WriteIOPS), time.Duration(v.BurstMS)*time.Millisecond),
		fmt.Sprintf("          held back: %d reads for %.1fs, %d writes for %.1fs", v.ReadWaits, v.ReadWaitS, v.WriteWaits, v.WriteWaitS),
	}
}

// limit is one direction's limits: "20.0 MiB/s, 500/s", "none".
func limit(bps, iops int64) string {
	var parts []string
	if bps > 0 {
		parts = append(parts, mibs(float64(bps)/mib)+" MiB/s")
	}
	if iops > 0 {
		parts = append(parts, count(float64(iops))+"/s")
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}
