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
	Follow   bool          `short:"f" help:"Keep printing, one JSON document per line, until interrupted."`
	Interval time.Duration `default:"1s" help:"Time between documents with --follow (at least 10ms)."`
}

func (s *statsCmd) Run(ctx context.Context, e *env) error {
	return s.withClient(e.dir, func(c *control.Client) error {
		if !s.Follow {
			info, err := c.Stats(ctx, s.Minor)
			if err != nil {
				return err
			}
			return printJSON(e.stdout, info)
		}
		enc := json.NewEncoder(e.stdout)
		err := c.Watch(ctx, s.Minor, s.Interval, func(info wire.Info) error { return enc.Encode(info) })
		if errors.Is(err, context.Canceled) {
			return nil // interrupted: the way --follow ends
		}
		return err
	})
}
