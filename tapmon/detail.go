package main

import (
	"fmt"
	"strings"
	"time"

	tea "github.com/charmbracelet/bubbletea"

	"gotap.dev/libtap/control/wire"
)

// detailModel is one VBD in full. Its figures come from the list's
// live row; only the image chain is its own (read once, on entry).
type detailModel struct {
	id      vbdID
	layers  []layer
	err     error
	loading bool
}

// open switches to a VBD and asks for its chain.
func (d *detailModel) open(r row) tea.Cmd {
	*d = detailModel{id: r.vbdID, loading: true}
	return func() tea.Msg {
		layers, err := loadChain(r.Info)
		return chainMsg{id: r.vbdID, layers: layers, err: err}
	}
}

// setChain takes a chain that was loaded, unless the user moved on.
func (d *detailModel) setChain(msg chainMsg) {
	if msg.id == d.id {
		d.layers, d.err, d.loading = msg.layers, msg.err, false
	}
}

func (d detailModel) view(st styles, r row, width, height int) string {
	s := r.Info.Stats
	lines := []string{
		st.title.Render(fmt.Sprintf("minor %s of tapdisk %d · %s · %s", colMinor.cell(r), r.Pid, stateOf(r), imageOf(r))),
		fmt.Sprintf("size %s · up %s · ring %d/%d in use · %s",
			bytesIEC(r.Info.Size), time.Duration(r.Info.Uptime*float64(time.Second)).Round(time.Second),
			r.Info.RingInUse, r.Info.RingSlots, access(r.Info)),
		"",
	}
	lines = append(lines, d.chainLines(st, width)...)
	lines = append(lines, "",
		fmt.Sprintf("requests  reads %d (%s)  writes %d (%s)", s.Reads, bytesIEC(int64(s.ReadBytes)), s.Writes, bytesIEC(int64(s.WriteBytes))),
		fmt.Sprintf("          merges %d (%s of requests)  retries %d  errors %d  in flight %d",
			s.Merges, percent(float64(s.Merges), float64(s.Reads+s.Writes)), s.Retries, s.Errors, s.InFlight),
		fmt.Sprintf("now       reads %s/s (%s MiB/s)  writes %s/s (%s MiB/s)",
			count(r.Rate.ReadIOPS), mibs(r.Rate.ReadMiBs), count(r.Rate.WriteIOPS), mibs(r.Rate.WriteMiBs)),
		fmt.Sprintf("          latency p50 %s  p99 %s", micros(r.Rate.P50US), micros(r.Rate.P99US)))
	lines = append(lines, limitLines(r.Info.Valve)...)
	if c := r.Info.Coalescing; c != nil {
		lines = append(lines, fmt.Sprintf("coalesce  %s of %s merged down the chain (%s)",
			bytesIEC(c.Done), bytesIEC(c.Total), percent(float64(c.Done), float64(c.Total))))
	}
	lines = append(lines, "")
	lines = append(lines, errorLines(st, r.Info.Errors)...)
	lines = append(lines, "")
	// The histogram comes last and gets the lines left: it can merge rows.
	lines = append(lines, histogram(st, s.ReadLatency, s.WriteLatency, width, height-len(lines))...)
	if len(lines) > height {
		lines = lines[:height]
	}
	return strings.Join(lines, "\n")
}

// chainLines is the image chain table, top image first.
func (d detailModel) chainLines(st styles, width int) []string {
	pathW := max(width-2-5-3*11, 10)
	lines := []string{st.header.Render(fmt.Sprintf("  %-4s %-*s %10s %10s %10s", "type", pathW, "image chain", "virtual", "file", "allocated"))}
	switch {
	case d.loading:
		return append(lines, st.dim.Render("  reading…"))
	case len(d.layers) == 0 && d.err == nil:
		return append(lines, st.dim.Render("  no image files (served from memory or over NBD)"))
	}
	for _, l := range d.layers {
		lines = append(lines, fmt.Sprintf("  %-4s %s %10s %10s %10s", l.Kind, pad(l.Path, pathW, false),
			bytesIEC(l.Virtual), bytesIEC(l.File), percent(float64(l.Allocated), float64(l.Virtual))))
	}
	if d.err != nil {
		lines = append(lines, st.bad.Render("  "+d.err.Error()))
	}
	return lines
}

func access(info wire.Info) string {
	mode := "read-write"
	if info.ReadOnly {
		mode = "read-only"
	}
	if info.Direct {
		mode += ", O_DIRECT"
	}
	if info.Device != "" {
		mode += ", on " + info.Device // its kernel block device
	}
	return mode
}

// errorLines lists the VBD's recent errors, newest last.
func errorLines(st styles, errs []wire.ErrorRecord) []string {
	lines := []string{st.header.Render("recent errors")}
	if len(errs) == 0 {
		return append(lines, st.dim.Render("  none"))
	}
	for _, e := range errs {
		lines = append(lines, st.bad.Render("  "+e.Time.Format(time.TimeOnly)+" "+e.Message))
	}
	return lines
}
