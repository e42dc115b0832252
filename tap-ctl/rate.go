package main

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/stats"
)

// rateCmd changes the limits of a minor's valve layer, live: the flags
// become the valve's options, which the tapdisk parses, so tap-ctl and
// a spec's valve:…: layer take the same values.
type rateCmd struct {
	target
	RBPS  string `name:"rbps" placeholder:"BYTES" help:"Bytes read a second: 20M is 20 MiB/s; 0 removes the limit."`
	WBPS  string `name:"wbps" placeholder:"BYTES" help:"Bytes written a second; 0 removes the limit."`
	RIOPS string `name:"riops" placeholder:"N" help:"Reads a second; 0 removes the limit."`
	WIOPS string `name:"wiops" placeholder:"N" help:"Writes a second; 0 removes the limit."`
	Burst string `placeholder:"DURATION" help:"How much of each limit an idle disk may spend at once, as time at that rate (1s at first)."`
}

func (r *rateCmd) Run(ctx context.Context, e *env) error {
	var opts []string
	for _, o := range []struct{ key, val string }{
		{"rbps", r.RBPS}, {"wbps", r.WBPS}, {"riops", r.RIOPS}, {"wiops", r.WIOPS}, {"burst", r.Burst},
	} {
		if o.val != "" {
			opts = append(opts, o.key+"="+o.val)
		}
	}
	if len(opts) == 0 {
		return fmt.Errorf("nothing to change: give --rbps, --wbps, --riops, --wiops or --burst: %w", syscall.EINVAL)
	}
	return r.withClient(e.dir, func(c *control.Client) error {
		l, err := c.SetRate(ctx, r.Minor, strings.Join(opts, ","))
		if err == nil {
			fmt.Fprintln(e.stdout, formatLimits(l))
		}
		return err
	})
}

// formatLimits prints limits as the valve's options, so that they can be
// given back to open --rate.
func formatLimits(l stats.Limits) string {
	return fmt.Sprintf("rbps=%d,wbps=%d,riops=%d,wiops=%d,burst=%v",
		l.ReadBPS, l.WriteBPS, l.ReadIOPS, l.WriteIOPS, time.Duration(l.BurstMS)*time.Millisecond)
}
