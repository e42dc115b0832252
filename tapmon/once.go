package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"gotap.dev/libtap/stats"
)

// once prints the figures of two snapshots interval apart, so its rates
// are the same "over the last interval" rates the live view shows (not
// since-start averages, which would hide a disk that just got busy).
func once(ctx context.Context, src source, interval time.Duration, asJSON bool, w io.Writer) error {
	t := newTracker()
	var rows []row
	var at [2]time.Time
	for i := range at {
		if i > 0 {
			time.Sleep(interval)
		}
		s, err := src.Poll(ctx)
		if err != nil {
			return err
		}
		rows, at[i] = t.apply(s), s.At
	}
	if asJSON {
		return printJSON(w, rows, at[1].Sub(at[0]))
	}
	return printTable(w, rows)
}

// printTable prints fixed-width columns, the image last and whole, and
// a totals line: `awk '{print $1, $4}'` works on it.
func printTable(w io.Writer, rows []row) error {
	cols := append(append([]column(nil), figures...), colImage)
	fmt.Fprintln(w, line(cols, row{}, true))
	for _, r := range append(rows, totals(rows)) {
		if _, err := fmt.Fprintln(w, line(cols, r, false)); err != nil {
			return err
		}
	}
	return nil
}

// vbdJSON is one row of --once --json; the names are an interface for
// scripts, keep them.
type vbdJSON struct {
	Pid       int     `json:"pid"`
	Minor     int     `json:"minor"`
	Image     string  `json:"image"`
	State     string  `json:"state"`
	ReadIOPS  float64 `json:"read_iops"`
	WriteIOPS float64 `json:"write_iops"`
	ReadMiBs  float64 `json:"read_mib_s"`
	WriteMiBs float64 `json:"write_mib_s"`
	P50US     float64 `json:"p50_us"`
	P99US     float64 `json:"p99_us"`
	InFlight  int64   `json:"in_flight"`
	Retries   uint64  `json:"retries"`
	Errors    uint64  `json:"errors"`
	// Limits: the valve layer's, if the VBD has one.
	Limits *stats.Limits `json:"limits,omitempty"`
}

func toJSON(r row) vbdJSON {
	j := vbdJSON{
		Pid: r.Pid, Minor: r.Minor, Image: r.Info.Image, State: stateOf(r),
		ReadIOPS: r.Rate.ReadIOPS, WriteIOPS: r.Rate.WriteIOPS,
		ReadMiBs: r.Rate.ReadMiBs, WriteMiBs: r.Rate.WriteMiBs,
		P50US: r.Rate.P50US, P99US: r.Rate.P99US,
		InFlight: r.Info.Stats.InFlight, Retries: r.Info.Stats.Retries, Errors: r.Info.Stats.Errors,
	}
	if v := r.Info.Valve; v != nil {
		j.Limits = &v.Limits
	}
	return j
}

// printJSON prints the rows and the time their rates are over.
func printJSON(w io.Writer, rows []row, interval time.Duration) error {
	out := struct {
		IntervalS float64   `json:"interval_s"`
		VBDs      []vbdJSON `json:"vbds"`
		Totals    vbdJSON   `json:"totals"`
	}{IntervalS: interval.Seconds(), VBDs: []vbdJSON{}, Totals: toJSON(totals(rows))}
	for _, r := range rows {
		out.VBDs = append(out.VBDs, toJSON(r))
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
