package control

import (
	"context"
	"os"
	"time"
)

// op decodes one request line and carries it out; the result is the
// reply's "result" (nil for none).
type op func(ctx context.Context, h Handler, line []byte) (any, error)

// handle makes an op from a request's defaults and what to do with it.
func handle[R any, P interface {
	*R
	checker
}](defaults R, do func(context.Context, Handler, *R) (any, error)) op {
	return func(ctx context.Context, h Handler, line []byte) (any, error) {
		req, err := decodeRequest[R, P](line, defaults)
		if err != nil {
			return nil, err
		}
		return do(ctx, h, req)
	}
}

// ops are the single-reply operations; watch streams and is served by
// Server.watch.
var ops = map[string]op{
	OpPid: handle(Header{}, func(context.Context, Handler, *Header) (any, error) {
		return PidReply{Pid: os.Getpid()}, nil
	}),
	OpList: handle(Header{}, func(ctx context.Context, h Handler, _ *Header) (any, error) {
		return list(ctx, h)
	}),
	OpAttach: handle(MinorRequest{Minor: noMinor}, func(ctx context.Context, h Handler, r *MinorRequest) (any, error) {
		return nil, h.Attach(ctx, r.Minor)
	}),
	OpOpen: handle(OpenRequest{Minor: noMinor}, func(ctx context.Context, h Handler, r *OpenRequest) (any, error) {
		return h.Open(ctx, *r)
	}),
	OpPause: handle(MinorRequest{Minor: noMinor}, func(ctx context.Context, h Handler, r *MinorRequest) (any, error) {
		return nil, h.Pause(ctx, r.Minor)
	}),
	OpResume: handle(ResumeRequest{Minor: noMinor}, func(ctx context.Context, h Handler, r *ResumeRequest) (any, error) {
		return nil, h.Resume(ctx, r.Minor, r.Image)
	}),
	OpClose: handle(MinorRequest{Minor: noMinor}, func(ctx context.Context, h Handler, r *MinorRequest) (any, error) {
		return nil, h.Close(ctx, r.Minor)
	}),
	OpDetach: handle(MinorRequest{Minor: noMinor}, func(ctx context.Context, h Handler, r *MinorRequest) (any, error) {
		return nil, h.Detach(ctx, r.Minor)
	}),
	OpStats: handle(MinorRequest{Minor: noMinor}, func(ctx context.Context, h Handler, r *MinorRequest) (any, error) {
		return h.Stats(ctx, r.Minor)
	}),
	OpCoalesce: handle(CoalesceRequest{Minor: noMinor, Top: 1}, func(ctx context.Context, h Handler, r *CoalesceRequest) (any, error) {
		return h.Coalesce(ctx, r.Minor, r.Top, r.Base)
	}),
	OpRate: handle(RateRequest{Minor: noMinor}, func(ctx context.Context, h Handler, r *RateRequest) (any, error) {
		return h.SetRate(ctx, r.Minor, r.Limits)
	}),
}

// interval is the watch period asked for, or the default.
func (r *WatchRequest) interval() time.Duration {
	if r.IntervalMS == 0 {
		return DefaultWatchInterval
	}
	return time.Duration(r.IntervalMS) * time.Millisecond
}
