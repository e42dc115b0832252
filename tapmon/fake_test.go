package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/charmbracelet/lipgloss"
	"github.com/muesli/termenv"
	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/stats"
)

// t0 is the fixtures' first poll; the second is a second later.
var t0 = time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)

// fakeSource plays snapshots in order, then repeats the last.
type fakeSource struct {
	mu    sync.Mutex
	snaps []snapshot
	n     int
}

func (f *fakeSource) Poll(context.Context) (snapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := f.snaps[min(f.n, len(f.snaps)-1)]
	f.n++
	return s, nil
}

// fakeActions records what was asked.
type fakeActions struct {
	mu   sync.Mutex
	done []string
}

func (f *fakeActions) Do(_ context.Context, a action, k vbdID) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s := fmt.Sprintf("%s %d/%d", a.verb(), k.Pid, k.Minor)
	f.done = append(f.done, s)
	return "did " + s, nil
}

// info is a VBD that did reads and writes of 4 KiB, n of each, at
// latencies of about 100 µs (most) and 2 ms (one in a hundred).
func info(minor int, image string, state wire.State, n uint64) wire.Info {
	lat := stats.Latency{Count: n, Buckets: []stats.Bucket{{UpperUS: 106.495, Count: n - n/100}, {UpperUS: 2097.151, Count: n / 100}}}
	return wire.Info{
		Minor: minor, Image: image, State: state, StateName: state.String(), Size: 64 << 20,
		RingSlots: 352, RingInUse: 3, Uptime: 62, Direct: true,
		Stats: stats.Snapshot{
			Reads: n, Writes: n, ReadBytes: 4096 * n, WriteBytes: 4096 * n,
			Merges: n / 50, Retries: 1, InFlight: 3, ReadLatency: lat, WriteLatency: lat,
		},
	}
}

// twoPolls is three VBDs in two tapdisks, polled a second apart: minor 0
// busy, minor 1 paused, minor 2 idle with an error; and a killed tapdisk.
func twoPolls() []snapshot {
	poll := func(at time.Time, n uint64) snapshot {
		broken := info(2, "valve:rbps=20M:vhd:/srv/images/guest-with-a-rather-long-name.vhd", 0, 10)
		broken.Valve = &stats.Valve{Limits: stats.Limits{ReadBPS: 20 << 20, BurstMS: 1000}, ReadWaits: 3, ReadWaitS: 0.25}
		broken.Coalescing = &wire.Progress{Done: 24 << 20, Total: 64 << 20}
		broken.Stats.Errors = 1
		broken.Errors = []wire.ErrorRecord{{Time: t0, Message: "read of 4096 bytes at 4096: input/output error"}}
		return snapshot{At: at, Tapdisks: []tapdisk{
			{Pid: 4242, VBDs: []wire.Info{info(0, "aio:/srv/a.img", 0, n), info(1, "aio:/srv/b.img", wire.Paused, 500)}},
			{Pid: 4343, VBDs: []wire.Info{broken}},
			{Pid: 4444, Dead: true, VBDs: []wire.Info{{Minor: 5, State: wire.Dead}}},
		}}
	}
	return []snapshot{poll(t0, 1000), poll(t0.Add(time.Second), 3000)}
}

// plain is tapmon's styles without colour, as under NO_COLOR.
func plain() styles {
	r := lipgloss.NewRenderer(io.Discard)
	r.SetColorProfile(termenv.Ascii)
	return newStyles(r)
}
