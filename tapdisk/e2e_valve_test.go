package main

import (
	"context"
	"fmt"
	"math"
	"os/exec"
	"testing"
	"time"

	"gotap.dev/libtap/stats"
	"gotap.dev/libvhd/vhdtest"
)

// valveCase is a limit to measure: the valve's options, the fio jobs
// that press against it, and what to read of the measures.
type valveCase struct {
	name   string
	limits string  // the valve layer's options, both directions at want
	want   float64 // bytes or requests a second, each direction
	live   string  // the live change, to twice want
	bs     string
	rw     [2]string // fio's --rw of the readers and of the writers
	fio    func(vhdtest.FioReport) (read, write float64)
	served func(stats.Snapshot) (read, write uint64)
}

var valveCases = []valveCase{
	{
		name: "bytes", limits: "rbps=20M,wbps=20M", want: 20 << 20, live: "rbps=40M,wbps=40M",
		bs: "128k", rw: [2]string{"read", "write"},
		fio:    func(r vhdtest.FioReport) (float64, float64) { return r.ReadBW, r.WriteBW },
		served: func(s stats.Snapshot) (uint64, uint64) { return s.ReadBytes, s.WriteBytes },
	},
	{
		name: "iops", limits: "riops=500,wiops=500", want: 500, live: "riops=1000,wiops=1000",
		bs: "4k", rw: [2]string{"randread", "randwrite"},
		fio:    func(r vhdtest.FioReport) (float64, float64) { return r.ReadIOPS, r.WriteIOPS },
		served: func(s stats.Snapshot) (uint64, uint64) { return s.Reads, s.Writes },
	},
}

// fioJobs are two readers and two writers, each on a connection of its
// own, so that the limit is seen to hold across connections (one budget
// per VBD, not per connection). The first second is not measured: the
// valve starts with a full bucket, a second of burst.
func (c valveCase) fioJobs(runtime time.Duration) []string {
	return []string{
		"--time_based", fmt.Sprintf("--runtime=%.0f", runtime.Seconds()), "--ramp_time=1",
		"--iodepth=8", "--bs=" + c.bs, "--size=64M", "--numjobs=2",
		"--name=readers", "--rw=" + c.rw[0], "--offset=0",
		"--name=writers", "--rw=" + c.rw[1], "--offset=128M",
	}
}

// within reports whether got is want ± 10%.
func within(got, want float64) bool { return math.Abs(got-want) <= want/10 }

// atLimit judges measures of a limit of want a second in each direction,
// taken by measure, which is called up to 3 times. More than want + 10%
// fails at once: nothing but the valve can make a disk faster. Less than
// want - 10% is measured again: these machines are shared, and a test
// run beside this one can slow the disk below its limit for a while; a
// valve that lets too little through falls short every time.
func atLimit(t *testing.T, what string, want float64, measure func() (read, write float64)) {
	t.Helper()
	for try := 1; ; try++ {
		r, w := measure()
		t.Logf("%s: %.0f read, %.0f written a second (limit %.0f)", what, r, w, want)
		switch {
		case r > want*1.1 || w > want*1.1:
			t.Errorf("%s: %.0f read, %.0f written a second; want at most %.0f + 10%% each", what, r, w, want)
			return
		case within(r, want) && within(w, want):
			return
		case try == 3:
			t.Errorf("%s: %.0f read, %.0f written a second in the last of 3 tries; want %.0f ± 10%% each", what, r, w, want)
			return
		}
	}
}

// TestValveLimits: fio over NBD, two connections reading and two
// writing, measures each direction at the valve's limit ± 10%, for bytes
// and for requests a second.
func TestValveLimits(t *testing.T) {
	if testing.Short() {
		t.Skip("fio runs for seconds")
	}
	for _, c := range valveCases {
		t.Run(c.name, func(t *testing.T) {
			p := start(t, t.TempDir(), []string{"valve:" + c.limits + ":ram:256M"})
			atLimit(t, "valve:"+c.limits+", fio", c.want, func() (float64, float64) {
				return c.fio(vhdtest.RunFio(t, p.uris[0], c.fioJobs(5*time.Second)...))
			})
			info, err := p.client(t).Stats(context.Background(), 0)
			if err != nil {
				t.Fatal(err)
			}
			if v := info.Valve; v == nil || v.ReadWaits == 0 || v.WriteWaits == 0 {
				t.Errorf("stats valve = %+v; want reads and writes that waited", v)
			}
		})
	}
}

// TestValveLiveChange: doubling the limits with set-rate while fio runs
// takes effect within a second, without a pause: the VBD stays running,
// requests keep flowing meanwhile, and a second after the change the
// rate is the new limit ± 10%.
func TestValveLiveChange(t *testing.T) {
	if testing.Short() {
		t.Skip("fio runs for seconds")
	}
	for _, c := range valveCases {
		t.Run(c.name, func(t *testing.T) {
			p := start(t, t.TempDir(), []string{"valve:" + c.limits + ":ram:256M"})
			cl := p.client(t)
			ctx := context.Background()
			// Long enough for every try atLimit may make; stopped sooner.
			fio := exec.Command("fio", append([]string{"--ioengine=nbd", "--uri=" + p.uris[0]}, c.fioJobs(20*time.Second)...)...)
			if err := fio.Start(); err != nil {
				t.Fatal(err)
			}
			defer fio.Wait()
			defer fio.Process.Kill()

			// rate samples the served counters over d: each direction's
			// rate, and fails on a state other than running.
			rate := func(d time.Duration) (read, write float64) {
				t.Helper()
				sample := func() (uint64, uint64, time.Time) {
					info, err := cl.Stats(ctx, 0)
					if err != nil {
						t.Fatal(err)
					}
					if info.State != 0 {
						t.Fatalf("state %v while the limits changed; want running throughout", info.State)
					}
					r, w := c.served(info.Stats)
					return r, w, time.Now()
				}
				r0, w0, t0 := sample()
				time.Sleep(d)
				r1, w1, t1 := sample()
				s := t1.Sub(t0).Seconds()
				return float64(r1-r0) / s, float64(w1-w0) / s
			}

			time.Sleep(1500 * time.Millisecond) // fio connects, spends the burst
			atLimit(t, "before the change", c.want, func() (float64, float64) { return rate(2 * time.Second) })
			l, err := cl.SetRate(ctx, 0, c.live)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("set-rate %s: limits now %+v", c.live, l)
			r, w := rate(time.Second) // the change takes effect in here
			if r < c.want*0.9 || w < c.want*0.9 {
				t.Errorf("in the second after the change: %.0f read, %.0f written a second; want no stall (at least the old %.0f)", r, w, c.want)
			}
			atLimit(t, "from a second after the change", 2*c.want, func() (float64, float64) { return rate(2 * time.Second) })
			if info, err := cl.Stats(ctx, 0); err != nil || info.Stats.Errors != 0 {
				t.Errorf("stats after fio: %+v, %v; want no error", info.Stats, err)
			}
		})
	}
}
