package main

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"gotap.dev/libtap/control"
	"gotap.dev/libtap/control/wire"
)

type statsCmd struct {
	target
	Follow   bool          `short:"f" help:"Keep printing, one line per interval, until interrupted."`
	Interval time.Duration `default:"1s" help:"Time between lines with --follow (at least 10ms)."`
}

func (statsCmd) Help() string {
	return `Prints one line of JSON: blktap's keys with blktap's meaning first (what
XenServer's storage manager reads: name, secs [read, written] sectors,
images [{name, hits [reads, writes], fail, driver {type, name, status}}],
FIXME_enospc_redirect_count, nbd_mirror_failed, reqs_outstanding,
read_caching), then gotap's own figures as more keys of the same object
(state, size, stats with latencies, chain, recent_errors, valve...).
Each image of the chain counts the requests that reached it: a read
reaches a parent once per run of sectors the images above it lack.

Examples:
  tap-ctl stats -m 0 | jq -c '.images[] | {name, hits}'
  tap-ctl stats -m 0 -f --interval 500ms | jq -c .stats.in_flight`
}

func (s *statsCmd) Run(ctx context.Context, e *env) error {
	return s.withClient(e.dir, func(c *control.Client) error {
		enc := json.NewEncoder(e.stdout)
		if !s.Follow {
			info, err := c.Stats(ctx, s.Minor)
			if err != nil {
				return err
			}
			return enc.Encode(blktapStats(info))
		}
		err := c.Watch(ctx, s.Minor, s.Interval, func(info wire.Info) error { return enc.Encode(blktapStats(info)) })
		if errors.Is(err, context.Canceled) {
			return nil // interrupted: the way --follow ends
		}
		return err
	})
}

// statsLine is what stats prints: blktap's tapdisk stats object, then
// every field of gotap's Info beside them (no key is in both).
type statsLine struct {
	Name            string        `json:"name"`
	Secs            [2]uint64     `json:"secs"`
	Images          []blktapImage `json:"images"`
	ENOSPCRedirects int           `json:"FIXME_enospc_redirect_count"`
	MirrorFailed    int           `json:"nbd_mirror_failed"`
	ReqsOutstanding int64         `json:"reqs_outstanding"`
	ReadCaching     string        `json:"read_caching"`
	wire.Info
}

// blktapImage is one image of blktap's stats.
type blktapImage struct {
	Name   string       `json:"name"`
	Hits   [2]uint64    `json:"hits"`
	Fail   [2]uint64    `json:"fail"`
	Driver blktapDriver `json:"driver"`
}

type blktapDriver struct {
	Type   int    `json:"type"`
	Name   string `json:"name"`
	Status any    `json:"status"` // null but for aio's request counts
}

// blktapTypes are tapdisk's DISK_TYPE_ numbers; -1 for a driver blktap
// does not have.
var blktapTypes = map[string]int{"aio": 0, "vhd": 4, "ram": 5, "valve": 14, "nbd": 15}

// blktapStats is info as blktap's tapdisk reports it, with info itself.
func blktapStats(info wire.Info) statsLine {
	s := info.Stats
	line := statsLine{
		Name:            info.Image,
		Secs:            [2]uint64{s.ReadBytes / 512, s.WriteBytes / 512},
		Images:          []blktapImage{},
		ReqsOutstanding: s.InFlight,
		ReadCaching:     "false", // gotap has no read cache: the page cache is -D
		Info:            info,
	}
	for _, im := range info.Chain {
		typ, ok := blktapTypes[im.Driver]
		if !ok {
			typ = -1
		}
		d := blktapDriver{Type: typ, Name: im.Driver}
		if im.Driver == "aio" && len(line.Images) == 0 {
			type reqs struct {
				Max     int   `json:"max"`
				Pending int64 `json:"pending"`
			}
			d.Status = map[string]reqs{"reqs": {info.RingSlots, s.InFlight}}
		}
		line.Images = append(line.Images, blktapImage{Name: im.Path, Hits: im.Hits, Fail: im.Fail, Driver: d})
	}
	return line
}
