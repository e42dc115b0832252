package control

import (
	"context"
	"encoding/json"
	"net"
	"time"

	"gotap.dev/libtap/control/wire"
)

// watch streams a reply with the stats of one minor (or all) now and
// then every interval, until the client closes the connection (noticed
// when the next line cannot be sent: reading for the hang-up cannot tell
// it from `socat`'s half-close after its input ends) or the minor goes
// away. It takes over the connection: lines the client sends
// meanwhile are ignored, and the connection ends with the watch. Only a
// watch refused at once leaves the connection usable (true).
func (s *Server) watch(ctx context.Context, c *net.UnixConn, id json.RawMessage, line []byte) bool {
	req, err := decodeRequest(line, WatchRequest{Minor: -1})
	if err != nil {
		return s.write(ctx, c, id, nil, err)
	}
	tick := time.NewTicker(req.interval())
	defer tick.Stop()
	for {
		infos, err := s.snapshot(ctx, req.Minor)
		if !s.write(ctx, c, id, infos, err) || err != nil {
			return false
		}
		select {
		case <-ctx.Done():
			return false
		case <-tick.C:
		}
	}
}

// snapshot is one watch line: every minor, or the one asked for.
func (s *Server) snapshot(ctx context.Context, minor int) ([]wire.Info, error) {
	if minor == -1 {
		return list(ctx, s.h)
	}
	info, err := s.h.Stats(ctx, minor)
	if err != nil {
		return nil, err
	}
	return []wire.Info{info}, nil
}

// list is every minor, as [] rather than null when there are none.
func list(ctx context.Context, h Handler) ([]wire.Info, error) {
	infos, err := h.List(ctx)
	if infos == nil && err == nil {
		infos = []wire.Info{}
	}
	return infos, err
}
