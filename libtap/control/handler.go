package control

import (
	"context"

	"gotap.dev/libtap/control/wire"
	"gotap.dev/libtap/stats"
)

// Handler carries out the operations; tapdisk implements it. The Server
// has already checked the request (fields, minor range), so a Handler
// only reports what its own state refuses, preferably as an *Error from
// Errorf (else the errno its error wraps, or EIO). Methods are called
// from many connections at once.
type Handler interface {
	// List reports every attached minor, open or not.
	List(ctx context.Context) ([]wire.Info, error)
	// Attach reserves a minor (state closed); EEXIST if it is attached.
	Attach(ctx context.Context, minor int) error
	// Open opens an image on a minor (attaching it if need be) and starts
	// serving it over NBD; EBUSY if the minor has an image open.
	Open(ctx context.Context, req OpenRequest) (OpenReply, error)
	Pause(ctx context.Context, minor int) error
	// Resume reopens the image, or image if not empty.
	Resume(ctx context.Context, minor int, image string) error
	// Close stops serving and closes the image; the minor stays attached.
	Close(ctx context.Context, minor int) error
	// Detach forgets a closed minor; EBUSY while an image is open.
	Detach(ctx context.Context, minor int) error
	// Stats reports one minor; ENOENT if it is not attached.
	Stats(ctx context.Context, minor int) (wire.Info, error)
	// SetRate changes the limits of an open minor's valve layer at once,
	// without a pause (see RateRequest), and returns those in force:
	// ENODEV if closed, EOPNOTSUPP without a valve layer, EINVAL for
	// limits that do not parse. Like Stats, it never waits on a
	// lifecycle operation.
	SetRate(ctx context.Context, minor int, limits string) (stats.Limits, error)
	// Coalesce merges layers top..base-1 of an open minor's chain into
	// layer base (0: the last) while it serves, and relinks the chain in
	// one short pause (see CoalesceRequest): EOPNOTSUPP for a chain that
	// cannot, EBUSY while paused or coalescing already.
	Coalesce(ctx context.Context, minor, top, base int) (wire.Coalesced, error)
}
