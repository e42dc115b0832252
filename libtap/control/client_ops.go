package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/stats"
)

// Pid asks the tapdisk for its process id.
func (c *Client) Pid(ctx context.Context) (int, error) {
	var r PidReply
	err := c.call(ctx, OpPid, &Header{}, &r)
	return r.Pid, err
}

// List reports every attached minor.
func (c *Client) List(ctx context.Context) ([]wire.Info, error) {
	var infos []wire.Info
	err := c.call(ctx, OpList, &Header{}, &infos)
	return infos, err
}

// Attach reserves a minor in the tapdisk.
func (c *Client) Attach(ctx context.Context, minor int) error {
	return c.call(ctx, OpAttach, &MinorRequest{Minor: minor}, nil)
}

// Open opens an image on a minor; the reply says where it is served.
func (c *Client) Open(ctx context.Context, req OpenRequest) (OpenReply, error) {
	var r OpenReply
	err := c.call(ctx, OpOpen, &req, &r)
	return r, err
}

// Pause quiesces a minor and closes its image.
func (c *Client) Pause(ctx context.Context, minor int) error {
	return c.call(ctx, OpPause, &MinorRequest{Minor: minor}, nil)
}

// Resume reopens a paused minor's image, or image if not empty.
func (c *Client) Resume(ctx context.Context, minor int, image string) error {
	return c.call(ctx, OpResume, &ResumeRequest{Minor: minor, Image: image}, nil)
}

// Close closes a minor's image; the minor stays attached.
func (c *Client) Close(ctx context.Context, minor int) error {
	return c.call(ctx, OpClose, &MinorRequest{Minor: minor}, nil)
}

// Detach forgets a closed minor.
func (c *Client) Detach(ctx context.Context, minor int) error {
	return c.call(ctx, OpDetach, &MinorRequest{Minor: minor}, nil)
}

// Stats reports one minor.
func (c *Client) Stats(ctx context.Context, minor int) (wire.Info, error) {
	var info wire.Info
	err := c.call(ctx, OpStats, &MinorRequest{Minor: minor}, &info)
	return info, err
}

// SetRate changes a minor's limits live (see RateRequest) and returns
// those in force.
func (c *Client) SetRate(ctx context.Context, minor int, limits string) (stats.Limits, error) {
	var l stats.Limits
	err := c.call(ctx, OpRate, &RateRequest{Minor: minor, Limits: limits}, &l)
	return l, err
}

// Coalesce merges layers top..base-1 of a minor's chain into layer base
// (0: the last image) while the disk serves; it returns once the chain
// is relinked, which for a large layer takes as long as copying it.
func (c *Client) Coalesce(ctx context.Context, minor, top, base int) (wire.Coalesced, error) {
	var r wire.Coalesced
	err := c.call(ctx, OpCoalesce, &CoalesceRequest{Minor: minor, Top: top, Base: base}, &r)
	return r, err
}

// Watch calls fn with the stats of minor (every minor if minor < 0) now
// and every interval (0: DefaultWatchInterval) until ctx is done (it
// returns ctx.Err()), fn fails (it returns fn's error, or nil for
// ErrStopWatch) or the tapdisk refuses (an *Error). A watch takes a
// connection of its own, so c stays usable meanwhile.
func (c *Client) Watch(ctx context.Context, minor int, interval time.Duration, fn func(wire.Info) error) error {
	conn, r, err := dial(c.path)
	if err != nil {
		return err
	}
	defer conn.Close()
	stop := interruptOnDone(ctx, conn)
	defer stop()
	req := WatchRequest{Header: Header{V: Version, Op: OpWatch, ID: []byte("1")}, Minor: max(minor, -1), IntervalMS: int(interval.Milliseconds())}
	err = send(ctx, conn, &req)
	for err == nil {
		var rep *Reply
		if rep, err = readReply(ctx, r); err != nil {
			break
		}
		var infos []wire.Info
		if err = decodeResult(rep, &infos); err != nil {
			break
		}
		for _, info := range infos {
			if err = fn(info); err != nil {
				break
			}
		}
	}
	if errors.Is(err, ErrStopWatch) {
		return nil
	}
	if _, ok := errors.AsType[*Error](err); ok || ctx.Err() != nil {
		return err
	}
	return fmt.Errorf("control watch: %w", err)
}
